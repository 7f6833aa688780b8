// Loads the agent bar: the content-hashed wasm is compiled while it
// streams (the page's Link header has the browser fetch it, and Go's
// wasm_exec.js, before this script runs), and wasm_exec.js loads
// alongside; the bar starts once both are there and the page is parsed.
// The page's data attributes name both files.
// Performance marks (performance.getEntriesByName) time the start-up:
// agentbar:compiled, agentbar:start (Go's runtime begins), then the bar's
// own agentbar:ready and agentbar:registered.
(() => {
  const root = document.documentElement;
  const {wasm, wasmExec} = root.dataset;
  if (location.pathname === '/kiosk' || new URLSearchParams(location.search).has('kiosk')) root.classList.add('kiosk');
  const fail = (msg) => {
    const show = () => { const p = document.getElementById('loading'); p.textContent = msg; p.classList.add('error'); };
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', show); else show();
  };
  if (!wasm || wasm.startsWith('{{')) return fail('The agent bar is not built: run make wasm.');
  const mark = (name) => { try { performance.mark(name); } catch (e) { /* no User Timing */ } };
  // compileStreaming now and instantiate later, rather than
  // instantiateStreaming once wasm_exec.js is there (Go's import object
  // comes from it): the compile does not wait for that script.
  const compiled = WebAssembly.compileStreaming(fetch(wasm)).then((m) => { mark('agentbar:compiled'); return m; });
  const exec = new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = wasmExec;
    s.onerror = () => reject(new Error('could not load wasm_exec.js'));
    s.onload = resolve;
    document.head.appendChild(s);
  });
  const parsed = document.readyState === 'loading'
    ? new Promise((resolve) => document.addEventListener('DOMContentLoaded', resolve, {once: true}))
    : null;
  Promise.all([compiled, exec, parsed])
    .then(([module]) => {
      const go = new Go();
      return WebAssembly.instantiate(module, go.importObject).then((instance) => {
        mark('agentbar:start');
        return go.run(instance);
      });
    })
    .catch((e) => fail('The agent bar could not start: ' + e));
})();
