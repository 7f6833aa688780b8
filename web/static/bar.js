// Loads the agent bar: Go's wasm_exec.js, then the content-hashed wasm,
// compiled while it streams. The page's data attributes name both files.
(() => {
  const root = document.documentElement;
  const {wasm, wasmExec} = root.dataset;
  if (location.pathname === '/kiosk' || new URLSearchParams(location.search).has('kiosk')) root.classList.add('kiosk');
  const fail = (msg) => { const p = document.getElementById('loading'); p.textContent = msg; p.classList.add('error'); };
  if (!wasm || wasm.startsWith('{{')) return fail('The agent bar is not built: run make wasm.');
  const s = document.createElement('script');
  s.src = wasmExec;
  s.onerror = () => fail('The agent bar could not load wasm_exec.js.');
  s.onload = () => {
    const go = new Go();
    WebAssembly.instantiateStreaming(fetch(wasm), go.importObject)
      .then(({instance}) => go.run(instance))
      .catch((e) => fail('The agent bar could not start: ' + e));
  };
  document.head.appendChild(s);
})();
