package control

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/agentbar/agentbar/proxy/auth"
	"github.com/agentbar/agentbar/proxy/control/wire"
	"github.com/agentbar/agentbar/proxy/eventlog"
	"github.com/agentbar/agentbar/proxy/gateway"
)

// stubGateway is a minimal CTI for protocol tests: agents can go ready and
// not ready; any call operation finds no call. The real CTI (the built-in
// call center behind the local adapter) is exercised in server's tests.
type stubGateway struct{}

func (stubGateway) Ready(context.Context) error { return nil }
func (stubGateway) Reasons() []gateway.Reason {
	return []gateway.Reason{{Code: "meeting", Label: "Meeting"}}
}
func (stubGateway) SignIn(_ context.Context, agent string, _ gateway.SignInOptions, sink func(gateway.Event)) (gateway.Session, error) {
	s := &stubSession{sink: sink, state: gateway.StateNotReady}
	sink(gateway.Event{Type: gateway.EvAgentState, State: s.state})
	return s, nil
}

type stubSession struct {
	mu    sync.Mutex
	sink  func(gateway.Event)
	state gateway.AgentState
}

func (s *stubSession) Do(_ context.Context, cmd gateway.Command) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch cmd.Op {
	case gateway.OpReady:
		s.state = gateway.StateReady
	case gateway.OpNotReady:
		s.state = gateway.StateNotReady
	default:
		return gateway.Errorf(gateway.CodeNoCall, "no call")
	}
	s.sink(gateway.Event{Type: gateway.EvAgentState, State: s.state, Reason: cmd.Reason})
	return nil
}
func (s *stubSession) Snapshot(context.Context) (gateway.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return gateway.Snapshot{State: s.state}, nil
}
func (s *stubSession) Close(context.Context) error { return nil }

var hmacKey = []byte("0123456789abcdef0123456789abcdef")

type fixture struct {
	url    string
	issuer *auth.Issuer
	hub    *Hub
}

func newFixture(t *testing.T, origins ...string) *fixture {
	t.Helper()
	ctx := context.Background()
	log, err := eventlog.Open(ctx, eventlog.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	v, err := auth.NewVerifier(auth.Config{Issuer: "agentbar", Audience: "agentbar", HMACKey: hmacKey})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := auth.NewIssuer(hmacKey, "agentbar", "agentbar", time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	hub, err := NewHub(Config{
		Gateway: stubGateway{}, Log: log, AllowedOrigins: origins,
		Verify: func(tok string) (string, time.Time, error) {
			c, err := v.Verify(tok)
			if err != nil {
				return "", time.Time{}, err
			}
			return c.Agent(), c.ExpiresAt.Time, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hub)
	t.Cleanup(srv.Close)
	return &fixture{url: "ws" + strings.TrimPrefix(srv.URL, "http"), issuer: iss, hub: hub}
}

func (f *fixture) token(t *testing.T, agent string) string {
	tok, _, err := f.issuer.Issue(agent, "")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// client is a bar's end of the channel.
type client struct {
	t       *testing.T
	ws      *websocket.Conn
	pending []*wire.ServerMessage // read while waiting for a reply
}

func (f *fixture) dial(t *testing.T, auth wire.ClientMessage, origin string) (*client, *wire.ServerMessage) {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	ws, _, err := websocket.Dial(context.Background(), f.url, &websocket.DialOptions{Subprotocols: []string{wire.Subprotocol}, HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	c := &client{t: t, ws: ws}
	c.send(auth)
	hello := c.next()
	if hello.Type != wire.TypeHello {
		t.Fatalf("got %+v, want hello", hello)
	}
	return c, hello
}

func (c *client) send(m any) {
	b, _ := json.Marshal(m)
	if err := c.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) next() *wire.ServerMessage {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m wire.ServerMessage
	if err := json.Unmarshal(data, &m); err != nil {
		c.t.Fatal(err)
	}
	return &m
}

// reply sends a command and returns its reply, collecting events that come first.
func (c *client) reply(cmd wire.ClientMessage) (*wire.ServerMessage, []*wire.ServerMessage) {
	c.t.Helper()
	cmd.Type = wire.TypeCmd
	c.send(cmd)
	var events []*wire.ServerMessage
	for {
		m := c.next()
		if m.Type == wire.TypeReply && m.ID == cmd.ID {
			c.pending = append(c.pending, events...)
			return m, events
		}
		events = append(events, m)
	}
}

// event waits for the next sequenced event.
func (c *client) event() (uint64, gateway.Event) {
	c.t.Helper()
	for {
		var m *wire.ServerMessage
		if len(c.pending) > 0 {
			m, c.pending = c.pending[0], c.pending[1:]
		} else {
			m = c.next()
		}
		if m.Type == wire.TypeEvent && m.Seq > 0 {
			var ev gateway.Event
			json.Unmarshal(m.Event, &ev)
			return m.Seq, ev
		}
	}
}

func TestCommandsAndBadInput(t *testing.T) {
	f := newFixture(t)
	c, hello := f.dial(t, wire.ClientMessage{Type: wire.TypeAuth, Token: f.token(t, "1001")}, "")
	if hello.Agent != "1001" || hello.Snapshot.State != gateway.StateSignedOut || len(hello.Reasons) != 1 {
		t.Fatalf("hello %+v", hello)
	}
	if r, _ := c.reply(wire.ClientMessage{ID: "1", Op: "ready"}); *r.OK || r.Error.Code != wire.CodeNotSignedIn {
		t.Fatalf("ready before sign-in: %+v", r)
	}
	if r, _ := c.reply(wire.ClientMessage{ID: "2", Op: wire.OpSignIn}); !*r.OK {
		t.Fatalf("sign in: %+v", r.Error)
	}
	if _, ev := c.event(); ev.State != gateway.StateNotReady {
		t.Fatalf("first event %+v", ev)
	}
	if r, _ := c.reply(wire.ClientMessage{ID: "3", Op: "ready"}); !*r.OK {
		t.Fatalf("ready: %+v", r.Error)
	}
	if _, ev := c.event(); ev.State != gateway.StateReady {
		t.Fatalf("event %+v", ev)
	}

	// Each bad input gets its code and changes nothing.
	c.ws.Write(context.Background(), websocket.MessageText, []byte("{not json"))
	if m := c.next(); m.Type != wire.TypeError || m.Error.Code != wire.CodeBadJSON {
		t.Fatalf("invalid JSON: %+v", m)
	}
	for _, tc := range []struct {
		cmd  wire.ClientMessage
		code string
	}{
		{wire.ClientMessage{ID: "4", Op: "explode"}, wire.CodeUnknownCommand},
		{wire.ClientMessage{ID: "5", Op: "hold"}, string(gateway.CodeNoCall)},
		{wire.ClientMessage{ID: "6", Op: "not_ready"}, string(gateway.CodeBadRequest)},
		{wire.ClientMessage{ID: "7", Op: "transfer", Target: &gateway.Target{Kind: "planet", ID: "x"}}, string(gateway.CodeBadRequest)},
		{wire.ClientMessage{ID: "8", Op: "dtmf", Digits: "12x"}, string(gateway.CodeBadRequest)},
	} {
		r, _ := c.reply(tc.cmd)
		if *r.OK || r.Error.Code != tc.code || r.Error.Message == "" {
			t.Errorf("%s: %+v, want %s", tc.cmd.Op, r.Error, tc.code)
		}
	}
	r, _ := c.reply(wire.ClientMessage{ID: "9", Op: wire.OpGetState})
	if r.Snapshot.State != gateway.StateReady {
		t.Fatalf("state changed by refused commands: %+v", r.Snapshot)
	}

	// An oversized message closes the channel (1009) and changes nothing.
	c.ws.Write(context.Background(), websocket.MessageText, []byte(`{"type":"cmd","id":"x","op":"not_ready","reason":"`+strings.Repeat("a", 20<<10)+`"}`))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if _, _, err := c.ws.Read(ctx); err != nil {
			if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
				t.Fatalf("closed with %v, want 1009", err)
			}
			break
		}
	}
	c2, hello := f.dial(t, wire.ClientMessage{Type: wire.TypeAuth, Token: f.token(t, "1001")}, "")
	if hello.Snapshot.State != gateway.StateReady {
		t.Fatalf("state after oversized frame: %+v", hello.Snapshot)
	}
	c2.ws.Close(websocket.StatusNormalClosure, "")
}

func TestResumeDeliversEachEventOnceInOrder(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, "1002")
	c, _ := f.dial(t, wire.ClientMessage{Type: wire.TypeAuth, Token: tok}, "")
	c.reply(wire.ClientMessage{ID: "1", Op: wire.OpSignIn})
	last, _ := c.event()
	c.ws.Close(websocket.StatusNormalClosure, "") // the network drops

	// Events happen while the bar is away.
	other, _ := f.dial(t, wire.ClientMessage{Type: wire.TypeAuth, Token: tok}, "")
	for i, op := range []string{"ready", "not_ready", "ready"} {
		other.reply(wire.ClientMessage{ID: string(rune('a' + i)), Op: op, Reason: "meeting"})
	}
	other.ws.Close(websocket.StatusNormalClosure, "")

	c, hello := f.dial(t, wire.ClientMessage{Type: wire.TypeAuth, Token: tok, Resume: &last}, "")
	if hello.Seq != last+3 {
		t.Fatalf("hello seq %d, want %d", hello.Seq, last+3)
	}
	want := []gateway.AgentState{gateway.StateReady, gateway.StateNotReady, gateway.StateReady}
	for i, w := range want {
		seq, ev := c.event()
		if seq != last+uint64(i)+1 || ev.State != w {
			t.Fatalf("event %d: seq %d state %s, want seq %d state %s", i, seq, ev.State, last+uint64(i)+1, w)
		}
	}
	// Nothing else is pending: the next message is the reply to a probe.
	if r, ev := c.reply(wire.ClientMessage{ID: "probe", Op: wire.OpGetState}); len(ev) != 0 || !*r.OK {
		t.Fatalf("extra messages after replay: %d", len(ev))
	}
}

func TestRefusals(t *testing.T) {
	f := newFixture(t, "https://crm.example.com")
	// A forbidden Origin is refused at the upgrade.
	_, resp, err := websocket.Dial(context.Background(), f.url, &websocket.DialOptions{
		Subprotocols: []string{wire.Subprotocol}, HTTPHeader: http.Header{"Origin": {"https://evil.example.com"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("forbidden origin: %v", err)
	}
	// A bad token closes with 4001.
	ws, _, err := websocket.Dial(context.Background(), f.url, &websocket.DialOptions{
		Subprotocols: []string{wire.Subprotocol}, HTTPHeader: http.Header{"Origin": {"https://crm.example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	b, _ := json.Marshal(wire.ClientMessage{Type: wire.TypeAuth, Token: f.token(t, "1001") + "x"})
	ws.Write(context.Background(), websocket.MessageText, b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			if websocket.CloseStatus(err) != closeUnauthorized {
				t.Fatalf("closed with %v, want 4001", err)
			}
			break
		}
	}
	// The token in the subprotocol works, and a fresh token for another agent is refused.
	ws2, _, err := websocket.Dial(context.Background(), f.url, &websocket.DialOptions{
		Subprotocols: []string{wire.Subprotocol, wire.TokenPrefix + f.token(t, "1003")},
		HTTPHeader:   http.Header{"Origin": {"https://crm.example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, ws: ws2}
	if m := c.next(); m.Type != wire.TypeHello || m.Agent != "1003" {
		t.Fatalf("hello %+v", m)
	}
	c.send(wire.ClientMessage{Type: wire.TypeToken, ID: "t", Token: f.token(t, "1004")})
	if m := c.next(); m.Type != wire.TypeError || m.Error.Code != wire.CodeUnauthorized {
		t.Fatalf("token for another agent: %+v", m)
	}
	c.send(wire.ClientMessage{Type: wire.TypeToken, ID: "t2", Token: f.token(t, "1003")})
	if m := c.next(); m.Type != wire.TypeReply || !*m.OK || m.Expires == nil {
		t.Fatalf("token refresh: %+v", m)
	}
}

// tokenHub is a hub on a fresh event log whose tokens are the keys of
// expiries (agent "ana", expiring as the map says); edit adjusts its
// Config. dial opens a channel on it with a token.
func tokenHub(t *testing.T, expiries map[string]time.Time, edit func(*Config)) (dial func(token string) *client) {
	t.Helper()
	log, err := eventlog.Open(t.Context(), eventlog.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	cfg := Config{
		Gateway: stubGateway{}, Log: log,
		Verify: func(tok string) (string, time.Time, error) {
			exp, ok := expiries[tok]
			if !ok {
				return "", time.Time{}, gateway.Errorf(gateway.CodeBadRequest, "unknown token")
			}
			return "ana", exp, nil
		},
	}
	edit(&cfg)
	hub, err := NewHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hub)
	t.Cleanup(srv.Close)
	f := &fixture{url: "ws" + strings.TrimPrefix(srv.URL, "http"), hub: hub}
	return func(token string) *client {
		c, _ := f.dial(t, wire.ClientMessage{Type: wire.TypeAuth, Token: token}, "")
		return c
	}
}

// TestTokenExpiry: the bar is warned TokenWarning before its token
// expires; a fresh token moves the expiry (no close at the old one); the
// channel closes with 4001 once the current token has expired.
func TestTokenExpiry(t *testing.T) {
	base := time.Now()
	expiries := map[string]time.Time{"first": base.Add(1500 * time.Millisecond), "second": base.Add(2500 * time.Millisecond)}
	dial := tokenHub(t, expiries, func(c *Config) { c.TokenWarning = time.Second })
	c := dial("first")

	warning := func() time.Time {
		t.Helper()
		m := c.next()
		var ev gateway.Event
		json.Unmarshal(m.Event, &ev)
		if m.Type != wire.TypeEvent || ev.Code != "token_expiring" {
			t.Fatalf("got %+v, want the token_expiring notice", m)
		}
		return time.Now()
	}
	if at := warning(); at.Before(expiries["first"].Add(-time.Second)) {
		t.Fatalf("warned %v before expiry, earlier than TokenWarning", expiries["first"].Sub(at))
	}
	c.send(wire.ClientMessage{Type: wire.TypeToken, ID: "t", Token: "second"})
	if r := c.next(); r.Type != wire.TypeReply || r.OK == nil || !*r.OK || r.Expires == nil || !r.Expires.Equal(expiries["second"]) {
		t.Fatalf("token reply %+v", r)
	}
	if at := warning(); at.Before(expiries["second"].Add(-time.Second)) {
		t.Fatalf("the fresh token was warned about %v before its expiry", expiries["second"].Sub(at))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := c.ws.Read(ctx)
	if code := websocket.CloseStatus(err); code != closeUnauthorized {
		t.Fatalf("read after expiry: %v (close code %d), want close %d", err, code, closeUnauthorized)
	}
	if now := time.Now(); now.Before(expiries["second"]) {
		t.Fatalf("closed %v before the fresh token expired", expiries["second"].Sub(now))
	}
}

// TestTokenRenew: renew_token replaces the channel's token with the fresh
// one Renew mints (the reply carries it and its expiry, and the channel
// then lives by it); a refusal comes back with Renew's code; without Renew
// the op is unsupported.
func TestTokenRenew(t *testing.T) {
	base := time.Now()
	expiries := map[string]time.Time{"first": base.Add(time.Hour), "second": base.Add(2 * time.Hour)}
	renewals := map[string]string{"first": "second"}
	var renewed []string
	renew := func(tok string) (string, time.Time, error) {
		renewed = append(renewed, tok)
		next, ok := renewals[tok]
		if !ok {
			return "", time.Time{}, &gateway.Error{Code: "session_over", Message: "sign in again"}
		}
		return next, expiries[next], nil
	}
	c := tokenHub(t, expiries, func(c *Config) { c.Renew = renew })("first")
	r, _ := c.reply(wire.ClientMessage{ID: "r1", Op: wire.OpRenewToken})
	if !*r.OK || r.Token != "second" || r.Expires == nil || !r.Expires.Equal(expiries["second"]) {
		t.Fatalf("renewal reply %+v", r)
	}
	// The next renewal starts from the fresh token: the channel holds it.
	r, _ = c.reply(wire.ClientMessage{ID: "r2", Op: wire.OpRenewToken})
	if *r.OK || r.Error == nil || r.Error.Code != "session_over" || r.Token != "" {
		t.Fatalf("refused renewal reply %+v", r)
	}
	if strings.Join(renewed, ",") != "first,second" {
		t.Fatalf("Renew saw %v, want first then second", renewed)
	}
	c = tokenHub(t, expiries, func(*Config) {})("first")
	if r, _ := c.reply(wire.ClientMessage{ID: "r3", Op: wire.OpRenewToken}); *r.OK || r.Error.Code != string(gateway.CodeUnsupported) {
		t.Fatalf("renewal without Renew: %+v", r)
	}
}
