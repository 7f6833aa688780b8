package server

// Helpers of the end-to-end tests (e2e_*_test.go): a real server on
// loopback, a control-channel client that behaves like the bar, and a soft
// phone (package sip over the SIP edge, media from internal/agentphone).
// Every name starts with e2e.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/agentbar/agentbar/internal/agentphone"
	"github.com/agentbar/agentbar/internal/logbuf"
	"github.com/agentbar/agentbar/proxy/control/wire"
	"github.com/agentbar/agentbar/proxy/gateway"
	"github.com/agentbar/agentbar/server/callcenter"
	"github.com/agentbar/agentbar/server/config"
	"github.com/agentbar/agentbar/server/media"
	"github.com/agentbar/agentbar/sip"
)

// e2eHMACKey signs the server's JWTs in these tests (and lets a test mint
// its own, good or bad).
const e2eHMACKey = "e2e-hmac-key-0123456789abcdef-0123456789"

// e2eWait bounds every wait for an event.
const e2eWait = 15 * time.Second

// e2eHeard is the level (dBFS) above which a phone counts as hearing the
// simulated voice (about -18 dBFS; silence is media.SilenceLevel).
const e2eHeard = -35.0

// e2eHeardLinear is e2eHeard on the call center's linear 0..1 scale.
const e2eHeardLinear = 0.0178

// e2eServer is a whole agentbar server serving HTTP on a loopback port.
type e2eServer struct {
	srv  *Server
	cfg  *config.Config
	url  string // http://127.0.0.1:port
	stop func() // stops HTTP and closes the server; runs once
}

// e2eStartServer starts a server storing its event log in storeDir, with
// three agents (1001 and 1002 in support, 1003 in sales and support), a
// 2 s wrap-up and every listener on a free loopback port. edit, if not
// nil, changes the configuration before the server is built.
func e2eStartServer(t *testing.T, storeDir string, edit func(*config.Config)) *e2eServer {
	t.Helper()
	return e2eStartServerWith(t, e2eSetup{storeDir: storeDir, edit: edit})
}

// e2eSetup is what a test may change in e2eStartServer's server.
type e2eSetup struct {
	storeDir string
	env      map[string]string    // further AGENTBAR_* variables
	edit     func(*config.Config) // changes the loaded configuration
	logs     *logbuf.Buffer       // where the server logs; nil: a private buffer
	level    slog.Level           // log level (default info)
	opts     []option             // server options (test hooks)
}

// e2eStartServerWith is e2eStartServer with the setup spelled out.
func e2eStartServerWith(t *testing.T, su e2eSetup) *e2eServer {
	t.Helper()
	storeDir, edit := su.storeDir, su.edit
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"AGENTBAR_LISTEN":                  ln.Addr().String(), // public URL follows
		"AGENTBAR_AUTH_HMAC_KEY":           e2eHMACKey,
		"AGENTBAR_SIP_SECRET":              "e2e-sip-secret",
		"AGENTBAR_BUS_STORE_DIR":           storeDir,
		"AGENTBAR_CALLCENTER_AGENT_LISTEN": "127.0.0.1:0",
		"AGENTBAR_CALLCENTER_TRUNK_LISTEN": "127.0.0.1:0",
	}
	maps.Copy(env, su.env)
	cfg, err := config.Load("", func(k string) string { return env[k] })
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	cfg.CallCenter.WrapUp = 2 * time.Second
	cfg.CallCenter.RingTimeout = 15 * time.Second
	cfg.CallCenter.MediaIP = "127.0.0.1"
	cfg.CallCenter.Queues = []config.Queue{{ID: "support", Name: "Support"}, {ID: "sales", Name: "Sales"}}
	cfg.CallCenter.Agents = []config.Agent{
		{ID: "1001", Name: "Ada", Password: "pw1001", Queues: []string{"support"}},
		{ID: "1002", Name: "Grace", Password: "pw1002", Queues: []string{"support"}},
		{ID: "1003", Name: "Alan", Password: "pw1003", Queues: []string{"sales"}},
	}
	cfg.CallCenter.Reasons = []config.Reason{{Code: "meeting", Label: "Meeting"}, {Code: "lunch", Label: "Lunch", Rest: true}}
	if edit != nil {
		edit(cfg)
	}
	logs := su.logs
	if logs == nil {
		logs = &logbuf.Buffer{}
	}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: su.level}))
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("E2E_LOGS") != "" {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	srv, err := New(context.Background(), cfg, log, su.opts...)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	s := &e2eServer{srv: srv, cfg: cfg, url: cfg.PublicURL}
	s.stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Run: %v", err)
		}
		cctx, ccancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer ccancel()
		srv.Close(cctx)
	})
	t.Cleanup(s.stop)
	return s
}

// cc is the server's built-in call center.
func (s *e2eServer) cc() *callcenter.CallCenter { return s.srv.CallCenter() }

// wsURL is the URL of a WebSocket endpoint of the server.
func (s *e2eServer) wsURL(path string) string {
	return "ws" + strings.TrimPrefix(s.url, "http") + path
}

// postJSON posts body to path and decodes the answer into out (if not nil).
func (s *e2eServer) postJSON(t *testing.T, path string, body any, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	res, err := http.Post(s.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("POST %s: %d %s: %v", path, res.StatusCode, data, err)
		}
	}
	return res.StatusCode
}

// token signs agent in at POST /v1/session, as the standalone page does.
func (s *e2eServer) token(t *testing.T, agent, password string) string {
	t.Helper()
	var out struct {
		Token   string    `json:"token"`
		Expires time.Time `json:"expires"`
		Agent   string    `json:"agent"`
	}
	if code := s.postJSON(t, "/v1/session", map[string]string{"agent": agent, "password": password}, &out); code != http.StatusOK || out.Token == "" || out.Agent != agent {
		t.Fatalf("POST /v1/session for %s: %d %+v", agent, code, out)
	}
	if d := time.Until(out.Expires); d < 50*time.Minute || d > 61*time.Minute {
		t.Fatalf("token expires in %v, want about 1h", d)
	}
	return out.Token
}

// demoCall places a simulated customer call and returns its ID.
func (s *e2eServer) demoCall(t *testing.T, queue, caller string, data map[string]string) string {
	t.Helper()
	var out struct {
		ID string `json:"id"`
	}
	if code := s.postJSON(t, "/v1/demo/calls", map[string]any{"queue": queue, "caller": caller, "data": data}, &out); code != http.StatusCreated || out.ID == "" {
		t.Fatalf("POST /v1/demo/calls: %d %+v", code, out)
	}
	return out.ID
}

// e2eEvent is one sequenced event as the bar received it.
type e2eEvent struct {
	Seq uint64
	Raw json.RawMessage
	Ev  gateway.Event
}

// e2eChan is the bar's end of the control channel. A reader goroutine
// files every message: replies by id, sequenced events in arrival order.
type e2eChan struct {
	t     *testing.T
	agent string
	ws    *websocket.Conn
	hello *wire.ServerMessage

	mu      sync.Mutex
	events  []e2eEvent
	notices []gateway.Event
	replies map[string]*wire.ServerMessage
	errs    []*wire.ServerMessage
	readErr error
	wake    chan struct{} // signalled on every message and at the end
	done    chan struct{} // closed when the reader stops
	cursor  int           // next event expect looks at
	nextID  int
}

// e2eDial opens the control channel with the token offered as a
// subprotocol (resume nil) or, when resume is set, in an auth message with
// that resume point. It returns after the hello.
func (s *e2eServer) e2eDial(t *testing.T, token string, resume *uint64) *e2eChan {
	t.Helper()
	protos := []string{wire.Subprotocol}
	if resume == nil {
		protos = append(protos, wire.TokenPrefix+token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, s.wsURL("/v1/agent/ws"), &websocket.DialOptions{Subprotocols: protos})
	if err != nil {
		t.Fatalf("dial control channel: %v", err)
	}
	if ws.Subprotocol() != wire.Subprotocol {
		t.Fatalf("subprotocol %q, want %q alone", ws.Subprotocol(), wire.Subprotocol)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	c := &e2eChan{t: t, ws: ws, replies: map[string]*wire.ServerMessage{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if resume != nil {
		b, _ := json.Marshal(wire.ClientMessage{Type: wire.TypeAuth, Token: token, Resume: resume})
		if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatalf("send auth: %v", err)
		}
	}
	_, data, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("no hello: %v", err)
	}
	var hello wire.ServerMessage
	if err := json.Unmarshal(data, &hello); err != nil || hello.Type != wire.TypeHello || hello.V != 1 || hello.Snapshot == nil {
		t.Fatalf("first message %s, want a hello", data)
	}
	c.hello, c.agent = &hello, hello.Agent
	go c.read()
	t.Cleanup(c.close)
	return c
}

// read files incoming messages until the channel closes.
func (c *e2eChan) read() {
	defer close(c.done)
	for {
		_, data, err := c.ws.Read(context.Background())
		c.mu.Lock()
		if err != nil {
			c.readErr = err
			c.mu.Unlock()
			c.signal()
			return
		}
		var m wire.ServerMessage
		if jerr := json.Unmarshal(data, &m); jerr != nil {
			c.readErr = fmt.Errorf("undecodable message %q: %w", data, jerr)
			c.mu.Unlock()
			c.signal()
			return
		}
		switch {
		case m.Type == wire.TypeReply:
			c.replies[m.ID] = &m
		case m.Type == wire.TypeEvent:
			var ev gateway.Event
			if err := json.Unmarshal(m.Event, &ev); err != nil {
				c.readErr = fmt.Errorf("undecodable event %s: %w", m.Event, err)
			}
			if m.Seq == 0 {
				c.notices = append(c.notices, ev)
			} else {
				c.events = append(c.events, e2eEvent{Seq: m.Seq, Raw: m.Event, Ev: ev})
			}
		default:
			c.errs = append(c.errs, &m)
		}
		c.mu.Unlock()
		c.signal()
	}
}

func (c *e2eChan) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// close drops the channel without a closing handshake (a closed tab).
func (c *e2eChan) close() {
	c.ws.CloseNow()
	<-c.done
}

// waitUntil waits until cond (called with c.mu held) holds, or fails the
// test after timeout with what.
func (c *e2eChan) waitUntil(timeout time.Duration, what func() string, cond func() bool) {
	c.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		ok, rerr := cond(), c.readErr
		c.mu.Unlock()
		if ok {
			return
		}
		if rerr != nil {
			c.t.Fatalf("%s: control channel of %s closed while waiting for %s: %v", time.Now().Format("15:04:05.000"), c.agent, what(), rerr)
		}
		select {
		case <-c.wake:
		case <-deadline.C:
			c.t.Fatalf("%s: waited %v on %s's channel for %s; events: %s", time.Now().Format("15:04:05.000"), timeout, c.agent, what(), c.summary())
		}
	}
}

// summary lists the events received so far, for failure messages.
func (c *e2eChan) summary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for i, e := range c.events {
		mark := " "
		if i == c.cursor {
			mark = ">"
		}
		fmt.Fprintf(&b, "\n %s#%d %s", mark, e.Seq, e2eDescribe(e.Ev))
	}
	return b.String()
}

// e2eDescribe is a short text for an event.
func e2eDescribe(ev gateway.Event) string {
	s := string(ev.Type)
	if ev.State != "" {
		s += " " + string(ev.State)
	}
	if ev.Reason != "" {
		s += " reason=" + ev.Reason
	}
	if ev.Cause != "" {
		s += " cause=" + ev.Cause
	}
	if ev.Digits != "" {
		s += " digits=" + ev.Digits
	}
	if ev.Code != "" {
		s += " code=" + ev.Code
	}
	if ev.Call != nil {
		s += " call=" + ev.Call.ID + "/" + ev.Call.State
	}
	return s
}

// cmd sends a command and returns its reply.
func (c *e2eChan) cmd(m wire.ClientMessage) *wire.ServerMessage {
	c.t.Helper()
	c.mu.Lock()
	c.nextID++
	m.Type, m.ID = wire.TypeCmd, fmt.Sprintf("c%d", c.nextID)
	c.mu.Unlock()
	b, _ := json.Marshal(m)
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("send %s: %v", m.Op, err)
	}
	var r *wire.ServerMessage
	c.waitUntil(e2eWait, func() string { return "the reply to " + m.Op }, func() bool {
		r = c.replies[m.ID]
		return r != nil
	})
	return r
}

// ok sends a command that must succeed and returns its reply.
func (c *e2eChan) ok(m wire.ClientMessage) *wire.ServerMessage {
	c.t.Helper()
	r := c.cmd(m)
	if r.OK == nil || !*r.OK {
		c.t.Fatalf("%s %s refused: %+v", c.agent, m.Op, r.Error)
	}
	return r
}

// op sends a command with no fields that must succeed.
func (c *e2eChan) op(op string) *wire.ServerMessage {
	c.t.Helper()
	return c.ok(wire.ClientMessage{Op: op})
}

// expect returns the first event from the cursor on that is of type typ
// and satisfies match (nil matches any), moving the cursor past it.
func (c *e2eChan) expect(typ gateway.EventType, match func(gateway.Event) bool) e2eEvent {
	c.t.Helper()
	return c.expectWithin(e2eWait, typ, match)
}

func (c *e2eChan) expectWithin(timeout time.Duration, typ gateway.EventType, match func(gateway.Event) bool) e2eEvent {
	c.t.Helper()
	var got e2eEvent
	c.waitUntil(timeout, func() string { return string(typ) }, func() bool {
		for i := c.cursor; i < len(c.events); i++ {
			e := c.events[i]
			if e.Ev.Type == typ && (match == nil || match(e.Ev)) {
				c.cursor, got = i+1, e
				return true
			}
		}
		return false
	})
	return got
}

// expectState waits for agent.state st.
func (c *e2eChan) expectState(st gateway.AgentState) e2eEvent {
	c.t.Helper()
	return c.expect(gateway.EvAgentState, func(ev gateway.Event) bool { return ev.State == st })
}

// expectCall waits for an event of type typ about call id.
func (c *e2eChan) expectCall(typ gateway.EventType, id string) e2eEvent {
	c.t.Helper()
	return c.expect(typ, func(ev gateway.Event) bool { return ev.Call != nil && ev.Call.ID == id })
}

// skip moves the cursor past the first n events received.
func (c *e2eChan) skip(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cursor = max(c.cursor, n)
}

// all returns a copy of the events received so far.
func (c *e2eChan) all() []e2eEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]e2eEvent(nil), c.events...)
}

// lastSeq is the newest sequence number received (the hello's if none).
func (c *e2eChan) lastSeq() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.events); n > 0 {
		return c.events[n-1].Seq
	}
	return c.hello.Seq
}

// e2ePhone is an agent's soft phone registered through the SIP edge.
type e2ePhone struct {
	t     *testing.T
	ua    *sip.UA
	calls chan *sip.Call

	mu     sync.Mutex
	phones []*agentphone.Phone
}

// e2eStartPhone asks the control channel for SIP credentials and
// registers a UA with them through the edge, the bearer token offered as
// a second subprotocol the way a browser does.
func e2eStartPhone(t *testing.T, c *e2eChan, token string) *e2ePhone {
	t.Helper()
	r := c.op(wire.OpSIPCredentials)
	cr := r.SIP
	if cr == nil || cr.URI == "" || cr.User == "" || cr.Password == "" {
		t.Fatalf("sip_credentials reply %+v", r)
	}
	if !strings.HasSuffix(cr.User, ":"+c.agent) || cr.AOR != "sip:"+c.agent+"@agentbar.local" || !strings.HasSuffix(cr.URI, "/v1/sip") {
		t.Fatalf("credentials for %s: user %q aor %q uri %q", c.agent, cr.User, cr.AOR, cr.URI)
	}
	user, domain, _ := strings.Cut(strings.TrimPrefix(cr.AOR, "sip:"), "@")
	p := &e2ePhone{t: t, calls: make(chan *sip.Call, 8)}
	ua, err := sip.NewUA(sip.Config{
		URL: cr.URI, User: user, Domain: domain,
		AuthUser: cr.User, Password: cr.Password,
		Protocols:  func() []string { return []string{"access_token." + token} },
		KeepAlive:  -1,
		OnIncoming: func(call *sip.Call) { p.calls <- call },
	})
	if err != nil {
		t.Fatal(err)
	}
	p.ua = ua
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	if err := ua.Start(ctx); err != nil {
		t.Fatalf("phone of %s does not register through the edge: %v", c.agent, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ua.Close(ctx)
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, ph := range p.phones {
			ph.Close()
		}
	})
	return p
}

// ringing waits for the next incoming call.
func (p *e2ePhone) ringing() *sip.Call {
	p.t.Helper()
	select {
	case c := <-p.calls:
		return c
	case <-time.After(e2eWait):
		p.t.Fatalf("the phone did not ring within %v", e2eWait)
		return nil
	}
}

// answer answers call with a new native WebRTC phone.
func (p *e2ePhone) answer(call *sip.Call) *agentphone.Phone {
	p.t.Helper()
	ph, err := agentphone.New(agentphone.Config{LoopbackCandidates: true})
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.phones = append(p.phones, ph)
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	if err := call.Answer(ctx, ph); err != nil {
		p.t.Fatalf("answer: %v", err)
	}
	return ph
}

// e2eAgent is one agent's open bar: token, control channel and phone.
type e2eAgent struct {
	id    string
	token string
	ch    *e2eChan
	phone *e2ePhone
}

// e2eBar opens agent's bar the way the browser does: session, control
// channel, SIP credentials and registration, then sign-in (not ready).
func (s *e2eServer) e2eBar(t *testing.T, agent string) *e2eAgent {
	t.Helper()
	a := &e2eAgent{id: agent, token: s.token(t, agent, "pw"+agent)}
	a.ch = s.e2eDial(t, a.token, nil)
	if a.ch.hello.Agent != agent || a.ch.hello.Snapshot.State != gateway.StateSignedOut || len(a.ch.hello.Reasons) != 2 {
		t.Fatalf("hello for %s: %+v", agent, a.ch.hello)
	}
	a.phone = e2eStartPhone(t, a.ch, a.token)
	a.ch.op(wire.OpSignIn)
	a.ch.expectState(gateway.StateNotReady)
	return a
}

// ready makes the agent ready.
func (a *e2eAgent) ready() {
	a.ch.op(string(gateway.OpReady))
	a.ch.expectState(gateway.StateReady)
}

// e2eEventually polls cond every frame period until it holds or timeout
// passes (for what has no event: audio levels and counters). It returns
// how long it took.
func e2eEventually(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(media.FramePeriod)
	defer tick.Stop()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		<-tick.C
	}
	return time.Since(start)
}

// e2eCustomer reads a call's customer-side stats.
func e2eCustomer(t *testing.T, s *e2eServer, callID string) callcenter.CallStats {
	t.Helper()
	st, ok := s.cc().CallStats(callID)
	if !ok {
		t.Fatalf("no stats for call %s", callID)
	}
	return st
}
