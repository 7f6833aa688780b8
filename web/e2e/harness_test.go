package e2e

// The harness: the agentbar server in-process on a loopback listener,
// headless Chromium through chromedp, one browser context per bar, calls
// into window.agentbar and a collector of its events.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/agentbar/agentbar/internal/logbuf"
	"github.com/agentbar/agentbar/server"
	"github.com/agentbar/agentbar/server/callcenter"
	"github.com/agentbar/agentbar/server/config"
	"github.com/agentbar/agentbar/server/huaweiemu"
)

// waitTimeout bounds every wait for an event or a state.
const waitTimeout = 20 * time.Second

// heardLinear is the call center's linear level (0..1) above which the
// simulated customer counts as hearing a voice rather than silence.
const heardLinear = 0.0178

// chromiumPath is where the Debian package chromium puts the browser;
// AGENTBAR_CHROMIUM overrides it.
func chromiumPath() string {
	if p := os.Getenv("AGENTBAR_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// moduleRoot is two levels above this package's directory (the tests'
// working directory at start). startEnv moves into it, as the server
// expects to run from there (it finds web/dist relative to it).
var moduleRoot = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Dir(filepath.Dir(wd))
}()

// distDir is the built bar (make wasm).
var distDir = filepath.Join(moduleRoot, "web", "dist")

// skipWithoutBar skips a test of the real bar until web/dist holds a
// build: manifest.json and the .wasm it names.
func skipWithoutBar(tb testing.TB) {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(distDir, "manifest.json"))
	if err != nil {
		tb.Skipf("no built bar in web/dist (%v): run `make wasm` first", err)
	}
	var m struct {
		Wasm string `json:"wasm"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Wasm == "" {
		tb.Skipf("web/dist/manifest.json names no build (%v): run `make wasm` first", err)
	}
	for _, ext := range []string{"", ".br", ".gz"} {
		if _, err := os.Stat(filepath.Join(distDir, m.Wasm+ext)); err == nil {
			return
		}
	}
	tb.Skipf("web/dist has no %s: run `make wasm` first", m.Wasm)
}

// logBuf collects logs; a failed test prints them.
type logBuf struct{ logbuf.Buffer }

// printf adds a time-stamped line (one write, so lines never interleave).
func (b *logBuf) printf(format string, args ...any) {
	fmt.Fprintf(&b.Buffer, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
}

// quietWriter drops Chromium's complaints about the missing D-Bus and
// sound card.
type quietWriter struct{ w io.Writer }

func (q quietWriter) Write(p []byte) (int, error) {
	var keep []byte
	for _, line := range bytes.SplitAfter(p, []byte("\n")) {
		if !bytes.Contains(line, []byte("dbus/")) && !bytes.HasPrefix(line, []byte("ALSA lib")) {
			keep = append(keep, line...)
		}
	}
	if len(keep) > 0 {
		if _, err := q.w.Write(keep); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// env is one test's world: the server and the browser.
type env struct {
	tb         testing.TB
	srv        *server.Server
	cfg        *config.Config
	url        string // http://127.0.0.1:port, the server's public URL
	serverLog  *logBuf
	browserLog *logBuf
	browser    context.Context // the chromedp context of the first tab
}

// startEnv moves into the module root and starts the server (agents 1001
// and 1002 in support, 1003 in sales, 2 s wrap-up, the event store in a
// temporary directory, HTTP on a loopback port that is also its public
// URL, plus the self-test page at /e2e/selftest.html) and Chromium. edit,
// if not nil, changes the configuration first.
func startEnv(tb testing.TB, edit func(*config.Config)) *env {
	tb.Helper()
	return startEnvWith(tb, envSetup{edit: edit})
}

// envSetup is what startEnvWith can change besides the defaults.
type envSetup struct {
	edit  func(*config.Config)    // changes the configuration, if not nil
	vars  map[string]string       // more AGENTBAR_* variables for config.Load
	level slog.Level              // of the server's log; zero is info
	hook  func(*huaweiemu.Config) // server.WithHuaweiDemoHook, if not nil
}

// startEnvWith is startEnv with more of the server's set-up.
func startEnvWith(tb testing.TB, setup envSetup) *env {
	tb.Helper()
	e := &env{tb: tb, serverLog: &logBuf{}, browserLog: &logBuf{}}
	tb.Chdir(moduleRoot)
	tb.Cleanup(func() {
		if tb.Failed() || os.Getenv("E2E_LOGS") != "" {
			tb.Logf("server log:\n%s", e.serverLog.String())
			tb.Logf("browser log:\n%s", e.browserLog.String())
		}
	})
	e.startServer(setup)
	e.startBrowser()
	return e
}

func (e *env) startServer(setup envSetup) {
	tb := e.tb
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	e.url = "http://" + ln.Addr().String()
	vars := map[string]string{
		"AGENTBAR_LISTEN":                  ln.Addr().String(),
		"AGENTBAR_PUBLIC_URL":              e.url,
		"AGENTBAR_AUTH_HMAC_KEY":           "browser-e2e-hmac-key-0123456789abcdef",
		"AGENTBAR_SIP_SECRET":              "browser-e2e-sip-secret",
		"AGENTBAR_BUS_STORE_DIR":           tb.TempDir(),
		"AGENTBAR_CALLCENTER_AGENT_LISTEN": "127.0.0.1:0",
		"AGENTBAR_CALLCENTER_TRUNK_LISTEN": "127.0.0.1:0",
	}
	for k, v := range setup.vars {
		vars[k] = v
	}
	cfg, err := config.Load("", func(k string) string { return vars[k] })
	if err != nil {
		ln.Close()
		tb.Fatal(err)
	}
	cfg.PublicURL = e.url
	cfg.CallCenter.WrapUp = 2 * time.Second
	cfg.CallCenter.RingTimeout = waitTimeout
	cfg.CallCenter.MediaIP = "127.0.0.1"
	cfg.CallCenter.Queues = []config.Queue{{ID: "support", Name: "Support"}, {ID: "sales", Name: "Sales"}}
	cfg.CallCenter.Agents = []config.Agent{
		{ID: "1001", Name: "Ada", Password: "pw1001", Queues: []string{"support"}},
		{ID: "1002", Name: "Grace", Password: "pw1002", Queues: []string{"support"}},
		{ID: "1003", Name: "Alan", Password: "pw1003", Queues: []string{"sales"}},
	}
	cfg.CallCenter.Reasons = []config.Reason{{Code: "meeting", Label: "Meeting"}, {Code: "lunch", Label: "Lunch", Rest: true}}
	if setup.edit != nil {
		setup.edit(cfg)
	}
	e.cfg = cfg
	log := slog.New(slog.NewTextHandler(e.serverLog, &slog.HandlerOptions{Level: setup.level}))
	srv, err := server.New(context.Background(), cfg, log, server.WithHuaweiDemoHook(setup.hook))
	if err != nil {
		ln.Close()
		tb.Fatal(err)
	}
	e.srv = srv
	mux := http.NewServeMux()
	mux.HandleFunc("GET /e2e/selftest.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, selfTestPage)
	})
	mux.Handle("/", srv.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			tb.Errorf("serve: %v", err)
		}
		srv.Close(ctx)
	})
}

// chromiumFlags are the switches that make WebRTC work headless as root,
// with Chromium's fake microphone and camera.
var chromiumFlags = []string{
	"headless", "no-sandbox", "disable-gpu",
	"use-fake-device-for-media-stream", "use-fake-ui-for-media-stream",
	"allow-loopback-in-peer-connection",
	"disable-background-networking", "disable-component-update", "disable-sync",
	"no-first-run", "no-default-browser-check", "disable-dev-shm-usage",
	"disable-extensions", "disable-default-apps", "disable-breakpad",
	"disable-background-timer-throttling", "disable-renderer-backgrounding",
	"disable-backgrounding-occluded-windows", "password-store=basic",
	"use-mock-keychain", "autoplay-policy=no-user-gesture-required",
	"disable-features=WebRtcHideLocalIpsWithMdns",
}

func (e *env) startBrowser() {
	tb := e.tb
	tb.Helper()
	path := chromiumPath()
	if st, err := os.Stat(path); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		tb.Fatalf("no Chromium at %s (%v): install the Debian package chromium (apt-get install -y chromium, or run scripts/setup.sh)", path, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(quietWriter{e.browserLog}),
	}
	for _, f := range chromiumFlags {
		name, val, ok := strings.Cut(f, "=")
		if ok {
			opts = append(opts, chromedp.Flag(name, val))
		} else {
			opts = append(opts, chromedp.Flag(name, true))
		}
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithErrorf(func(f string, a ...any) { e.browserLog.printf("chromedp: "+f, a...) }))
	tb.Cleanup(func() { bcancel(); acancel() })
	if err := chromedp.Do(bctx); err != nil {
		tb.Fatalf("start Chromium %s: %v", path, err)
	}
	e.browser = bctx
}

// postJSON posts body to the server and decodes the answer into out.
func (e *env) postJSON(path string, body, out any) int {
	e.tb.Helper()
	b, _ := json.Marshal(body)
	res, err := http.Post(e.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		e.tb.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.tb.Fatalf("POST %s: %d %s: %v", path, res.StatusCode, data, err)
		}
	}
	return res.StatusCode
}

// demoCall places a simulated customer call (POST /v1/demo/calls).
func (e *env) demoCall(queue, caller string, data map[string]string) string {
	e.tb.Helper()
	var out struct {
		ID string `json:"id"`
	}
	if code := e.postJSON("/v1/demo/calls", map[string]any{"queue": queue, "caller": caller, "data": data}, &out); code != http.StatusCreated || out.ID == "" {
		e.tb.Fatalf("POST /v1/demo/calls: %d %+v", code, out)
	}
	return out.ID
}

// customer is what the simulated customer of a call measured.
func (e *env) customer(callID string) callcenter.CallStats {
	e.tb.Helper()
	st, ok := e.srv.CallCenter().CallStats(callID)
	if !ok {
		e.tb.Fatalf("no call stats for %s", callID)
	}
	return st
}

// eventually polls cond every 50 ms until it holds, failing the test
// after timeout; it returns how long it took.
func eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Since(start) > timeout {
			tb.Fatalf("waited %v for %s", timeout, what)
		}
		<-tick.C
	}
	return time.Since(start)
}

// barCall is a call as the bar shows it.
type barCall struct {
	ID     string         `json:"id"`
	Caller string         `json:"caller"`
	Queue  string         `json:"queue"`
	Data   map[string]any `json:"data"`
	State  string         `json:"state"`
}

// barState is agentbar.state().
type barState struct {
	Agent   string   `json:"agent"`
	State   string   `json:"state"`
	Reason  string   `json:"reason"`
	Call    *barCall `json:"call"`
	Channel any      `json:"channel"`
	Phone   any      `json:"phone"`
}

// barStats is agentbar.stats().
type barStats struct {
	PacketsReceived float64 `json:"packetsReceived"`
	AudioLevel      float64 `json:"audioLevel"`
	MOS             float64 `json:"mos"`
}

// barEvent is one event the collector saw: Kind is the type it was
// registered for with agentbar.on, Raw its argument; the other fields are
// decoded from Raw (or from Raw.event when the bar hands over the whole
// control-channel message).
type barEvent struct {
	Kind string          `json:"kind"`
	At   float64         `json:"at"` // Date.now() in the page
	Raw  json.RawMessage `json:"ev"`

	Type, State, Reason, Cause, Digits, Code string
	Call                                     *barCall
}

type eventFields struct {
	Type   string          `json:"type"`
	State  string          `json:"state"`
	Reason string          `json:"reason"`
	Cause  string          `json:"cause"`
	Digits string          `json:"digits"`
	Code   string          `json:"code"`
	Call   *barCall        `json:"call"`
	Event  json.RawMessage `json:"event"`
}

func (ev *barEvent) decode() {
	var f eventFields
	if json.Unmarshal(ev.Raw, &f) != nil {
		return
	}
	if len(f.Event) > 0 && f.Event[0] == '{' {
		var inner eventFields
		if json.Unmarshal(f.Event, &inner) == nil {
			f = inner
		}
	}
	ev.Type, ev.State, ev.Reason, ev.Cause, ev.Digits, ev.Code, ev.Call = f.Type, f.State, f.Reason, f.Cause, f.Digits, f.Code, f.Call
}

func (ev barEvent) String() string {
	raw := string(ev.Raw)
	if len(raw) > 300 {
		raw = raw[:300] + "..."
	}
	return ev.Kind + " " + raw
}

// callID is the call an event is about, or "".
func (ev barEvent) callID() string {
	if ev.Call == nil {
		return ""
	}
	return ev.Call.ID
}

// eventTypes are the events the collector subscribes to.
var eventTypes = []string{
	"agent.state", "call.incoming", "call.ringing", "call.answered", "call.held",
	"call.resumed", "call.muted", "call.unmuted", "call.consult_started",
	"call.consult_ended", "call.transferred", "call.conferenced", "call.ended",
	"call.dtmf", "session.notice", "phone.registered", "phone.incoming",
	"phone.unregistered", "phone.ended", "channel.open", "channel.closed",
	"hello", "error", "stats",
}

// collectorJS runs in every document of a bar's tab before the page's own
// scripts: it catches window.agentbar as the page installs it and
// subscribes to every event type, lets the test wait for events, and keeps
// the page's RTCPeerConnections for direct getStats (__e2e.inbound()).
var collectorJS = `(() => {
  if (window.__e2e) return;
  const types = ` + mustJSON(eventTypes) + `;
  const c = window.__e2e = {events: [], waiters: [], installed: false, bar: undefined};
  c.push = (kind, ev) => {
    let v;
    try { v = JSON.parse(JSON.stringify(ev === undefined ? null : ev)); } catch (err) { v = {unserializable: String(ev)}; }
    c.events.push({kind, at: Date.now(), ev: v});
    const ws = c.waiters; c.waiters = [];
    for (const w of ws) w();
  };
  c.install = (bar) => {
    if (c.installed) return true;
    if (!bar || typeof bar.on !== 'function') return false;
    c.installed = true;
    for (const t of types) {
      try { bar.on(t, (ev) => c.push(t, ev)); } catch (err) { c.push('e2e.on_failed', {type: t, error: String(err)}); }
    }
    return true;
  };
  c.wait = (n, ms) => new Promise((resolve) => {
    if (c.events.length > n) { resolve(c.events.slice(n)); return; }
    const timer = setTimeout(() => resolve(c.events.slice(n)), ms);
    c.waiters.push(() => { clearTimeout(timer); resolve(c.events.slice(n)); });
  });
  // Track the page's peer connections, to read their stats directly.
  c.pcs = [];
  const PC = window.RTCPeerConnection;
  if (PC) {
    window.RTCPeerConnection = class extends PC {
      constructor(...args) { super(...args); c.pcs.push(this); }
    };
  }
  // Track the page's WebSockets (URL and subprotocols offered), to drop
  // one and see what the bar reconnects with.
  c.sockets = [];
  const WS = window.WebSocket;
  window.WebSocket = class extends WS {
    constructor(url, protocols) {
      super(url, protocols);
      c.sockets.push({url: String(url), protocols: [].concat(protocols || []), ws: this});
    }
  };
  // dropSIP closes the bar's open SIP WebSockets, as a network drop would.
  c.dropSIP = () => {
    let n = 0;
    for (const s of c.sockets) if (s.url.endsWith('/v1/sip') && s.ws.readyState === WS.OPEN) { s.ws.close(); n++; }
    return n;
  };
  // sipTokens lists the token each SIP WebSocket offered, oldest first.
  c.sipTokens = () => c.sockets.filter((s) => s.url.endsWith('/v1/sip'))
    .map((s) => (s.protocols.find((p) => p.startsWith('access_token.')) || '').slice('access_token.'.length));
  // inbound sums packetsReceived of the audio inbound-rtp of every open
  // peer connection.
  c.inbound = async () => {
    let n = 0;
    for (const pc of c.pcs) {
      if (pc.signalingState === 'closed') continue;
      const rep = await pc.getStats();
      rep.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'audio') n += s.packetsReceived || 0; });
    }
    return n;
  };
  try {
    Object.defineProperty(window, 'agentbar', {
      configurable: true, enumerable: true,
      get() { return c.bar; },
      set(v) { c.bar = v; c.install(v); },
    });
  } catch (err) {}
})();`

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// bar is one open agent bar: a tab in its own browser context.
type bar struct {
	e      *env
	name   string
	ctx    context.Context
	close  context.CancelFunc // closes the tab and its browser context
	events []barEvent         // collected from the current document
	cursor int                // the next event expect looks at
}

// openBar opens path (the bar is "/") in a new browser context, an
// isolated profile, and waits for window.agentbarReady.
func (e *env) openBar(tb testing.TB, name, path string) *bar {
	tb.Helper()
	b := e.newTab(tb, name)
	b.navigate(tb, path)
	return b
}

// newTab opens a blank tab in a new browser context, with the event
// collector installed for every document it will load.
func (e *env) newTab(tb testing.TB, name string) *bar {
	tb.Helper()
	ctx, cancel := chromedp.NewContext(e.browser, chromedp.WithNewBrowserContext())
	tb.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		tb.Fatalf("open a tab for %s: %v", name, err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: collectorJS}); err != nil {
		tb.Fatalf("install the event collector: %v", err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			e.browserLog.printf("[%s] console.%s %s (%s:%d)", name, m.Type, m.Text, m.URL, m.Line+1)
		}
	}()
	return &bar{e: e, name: name, ctx: ctx, close: cancel}
}

// navigate loads path and waits for the bar to install itself.
func (b *bar) navigate(tb testing.TB, path string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(b.e.url+path)); err != nil {
		tb.Fatalf("%s: navigate to %s: %v", b.name, path, err)
	}
	b.events, b.cursor = nil, 0
	b.waitReady(tb)
}

// reload reloads the page and waits for the bar to install itself again.
func (b *bar) reload(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		tb.Fatalf("%s: reload: %v", b.name, err)
	}
	b.events, b.cursor = nil, 0
	b.waitReady(tb)
}

func (b *bar) waitReady(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.agentbarReady === true`, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(waitTimeout))); err != nil {
		tb.Fatalf("%s: window.agentbarReady never became true: %v\nbrowser log:\n%s", b.name, err, b.e.browserLog.String())
	}
	ok, err := evaluate[bool](b, `window.__e2e ? window.__e2e.install(window.agentbar) : false`)
	if err != nil || !ok {
		tb.Fatalf("%s: cannot subscribe to window.agentbar's events (%v, installed %v)", b.name, err, ok)
	}
}

// evaluate runs a JavaScript expression in the bar's page, awaiting the
// promise it returns, and decodes the result.
func evaluate[T any](b *bar, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// try calls window.agentbar[method](args...) and awaits its promise.
func (b *bar) try(method string, args ...any) (json.RawMessage, error) {
	if args == nil {
		args = []any{}
	}
	expr := fmt.Sprintf(`(async () => { const r = await window.agentbar[%s](...%s); return JSON.stringify(r === undefined ? null : r); })()`, mustJSON(method), mustJSON(args))
	s, err := evaluate[string](b, expr)
	return json.RawMessage(s), err
}

// do calls a method that must succeed.
func (b *bar) do(tb testing.TB, method string, args ...any) json.RawMessage {
	tb.Helper()
	r, err := b.try(method, args...)
	if err != nil {
		tb.Fatalf("%s: agentbar.%s%s: %v\nevents:%s", b.name, method, mustJSON(args), err, b.summary())
	}
	return r
}

// state is agentbar.state().
func (b *bar) state(tb testing.TB) barState {
	tb.Helper()
	st, err := evaluate[barState](b, `Promise.resolve(window.agentbar.state())`)
	if err != nil {
		tb.Fatalf("%s: agentbar.state(): %v", b.name, err)
	}
	return st
}

// stats is agentbar.stats() (zero when the bar has none).
func (b *bar) stats(tb testing.TB) barStats {
	tb.Helper()
	st, err := evaluate[*barStats](b, `Promise.resolve(window.agentbar.stats())`)
	if err != nil {
		tb.Fatalf("%s: agentbar.stats(): %v", b.name, err)
	}
	if st == nil {
		return barStats{}
	}
	return *st
}

// barFigures is agentbar.figures(): the control channel's get_stats.
type barFigures struct {
	Queues []struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Waiting int    `json:"waiting"`
		Ready   int    `json:"ready"`
	} `json:"queues"`
	Agent *struct {
		Answered int `json:"answered"`
		TalkTime int `json:"talk_time"`
		Missed   int `json:"missed"`
	} `json:"agent"`
}

// figures is agentbar.figures(), nil before the first reply.
func (b *bar) figures(tb testing.TB) *barFigures {
	tb.Helper()
	f, err := evaluate[*barFigures](b, `window.agentbar.figures()`)
	if err != nil {
		tb.Fatalf("%s: agentbar.figures(): %v", b.name, err)
	}
	return f
}

// text is the text of the page's element id, "" while it is hidden.
func (b *bar) text(tb testing.TB, id string) string {
	tb.Helper()
	s, err := evaluate[string](b, fmt.Sprintf(`(() => { const e = document.getElementById(%s); return !e || e.closest('[hidden]') ? '' : e.textContent; })()`, mustJSON(id)))
	if err != nil {
		tb.Fatalf("%s: text of #%s: %v", b.name, id, err)
	}
	return s
}

// hears reports whether the bar receives audio above silence.
func (b *bar) hears(tb testing.TB) func() bool {
	return func() bool { st := b.stats(tb); return st.PacketsReceived > 0 && st.AudioLevel > 0 }
}

// fetch waits up to d for events after those already fetched.
func (b *bar) fetch(tb testing.TB, d time.Duration) {
	tb.Helper()
	more, err := evaluate[[]barEvent](b, fmt.Sprintf(`window.__e2e.wait(%d, %d)`, len(b.events), max(d.Milliseconds(), 1)))
	if err != nil {
		tb.Fatalf("%s: read events: %v", b.name, err)
	}
	for i := range more {
		more[i].decode()
	}
	b.events = append(b.events, more...)
}

// expect returns the first event from the cursor on of kind typ that
// satisfies match (nil matches any), moving the cursor past it.
func (b *bar) expect(tb testing.TB, typ string, match func(barEvent) bool) barEvent {
	tb.Helper()
	return b.expectWithin(tb, waitTimeout, typ, match)
}

func (b *bar) expectWithin(tb testing.TB, timeout time.Duration, typ string, match func(barEvent) bool) barEvent {
	tb.Helper()
	ev, ok := b.within(tb, timeout, typ, match)
	if !ok {
		tb.Fatalf("%s %s: waited %v for %s; events:%s", time.Now().Format("15:04:05.000"), b.name, timeout, typ, b.summary())
	}
	return ev
}

// within is expectWithin that reports a timeout instead of failing.
func (b *bar) within(tb testing.TB, timeout time.Duration, typ string, match func(barEvent) bool) (barEvent, bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for i := b.cursor; i < len(b.events); i++ {
			if ev := b.events[i]; ev.Kind == typ && (match == nil || match(ev)) {
				b.cursor = i + 1
				return ev, true
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			return barEvent{}, false
		}
		b.fetch(tb, min(left, 2*time.Second))
	}
}

// saw waits for an event of kind typ that satisfies match anywhere among
// those of the current document, whatever the cursor, and leaves the
// cursor alone (for events whose order against others is not fixed).
func (b *bar) saw(tb testing.TB, typ string, match func(barEvent) bool) barEvent {
	tb.Helper()
	cursor := b.cursor
	b.cursor = 0
	ev := b.expect(tb, typ, match)
	b.cursor = cursor
	return ev
}

// expectCall waits for an event of kind typ about call id.
func (b *bar) expectCall(tb testing.TB, typ, id string) barEvent {
	tb.Helper()
	return b.expect(tb, typ, func(ev barEvent) bool { return ev.callID() == id })
}

// expectState waits for agent.state st.
func (b *bar) expectState(tb testing.TB, st string) barEvent {
	tb.Helper()
	return b.expect(tb, "agent.state", func(ev barEvent) bool { return ev.State == st })
}

// summary lists the events collected so far, for failure messages.
func (b *bar) summary() string {
	var s strings.Builder
	for i, ev := range b.events {
		mark := " "
		if i == b.cursor {
			mark = ">"
		}
		fmt.Fprintf(&s, "\n %s%d %s", mark, i, ev)
	}
	return s.String()
}

// screenshot writes a PNG of the bar's page to path.
func (b *bar) screenshot(tb testing.TB, path string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.Fatalf("%s: screenshot: %v", b.name, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("screenshot of %s: %s (%d bytes)", b.name, path, len(png))
}
