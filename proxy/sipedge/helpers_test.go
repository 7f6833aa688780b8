package sipedge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	agentsip "github.com/agentbar/agentbar/sip"
)

// testAuthorizer accepts the bearer tokens "tok-<user>" for the users given.
func testAuthorizer(users ...string) Authorizer {
	return func(r *http.Request) (string, error) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			return "", errors.New("no bearer token")
		}
		for _, u := range users {
			if tok == "tok-"+u {
				return u, nil
			}
		}
		return "", errors.New("unknown token")
	}
}

// flowEvent is one call of Config.OnFlow.
type flowEvent struct {
	agent string
	open  bool
}

// testEdge is an Edge served by an httptest server.
type testEdge struct {
	*Edge
	srv    *httptest.Server
	events chan flowEvent
}

// startEdge serves an Edge relaying to upstream at /v1/sip.
func startEdge(t testing.TB, upstream string, mod func(*Config)) *testEdge {
	t.Helper()
	te := &testEdge{events: make(chan flowEvent, 64)}
	cfg := Config{
		Upstream:  upstream,
		Authorize: testAuthorizer("1001", "1002"),
		Logger:    testLogger(t),
		OnFlow: func(agent string, open bool) {
			select {
			case te.events <- flowEvent{agent, open}:
			default:
			}
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	te.Edge = e
	mux := http.NewServeMux()
	mux.Handle("GET /v1/sip", e)
	te.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		e.Close()
		te.srv.Close()
	})
	return te
}

// url is the WebSocket URL of the edge.
func (te *testEdge) url() string {
	return "ws" + strings.TrimPrefix(te.srv.URL, "http") + "/v1/sip"
}

// waitFlow waits for OnFlow to report agent's flow opening or closing.
func (te *testEdge) waitFlow(t testing.TB, agent string, open bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-te.events:
			if ev.agent == agent && ev.open == open {
				return
			}
		case <-timeout:
			t.Fatalf("flow of %s: no open=%v within 10s", agent, open)
		}
	}
}

// testLogger logs through t.Log, so logs show with failing tests only.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

// Write logs one record; records after the test ended are dropped.
func (w tWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // testing panics on Log after the test finished
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// fakeMedia is a Media that offers and answers plain PCMU SDP.
type fakeMedia struct {
	mu      sync.Mutex
	answers int // remote answers applied
}

func (m *fakeMedia) sdp() []byte {
	return []byte("v=0\r\no=edge 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")
}

func (m *fakeMedia) Offer(context.Context) ([]byte, error) { return m.sdp(), nil }

func (m *fakeMedia) Answer(_ context.Context, offer []byte) ([]byte, error) {
	if !strings.Contains(string(offer), "m=audio") {
		return nil, fmt.Errorf("offer without audio")
	}
	return m.sdp(), nil
}

func (m *fakeMedia) SetAnswer(_ context.Context, answer []byte, _ bool) error {
	if !strings.Contains(string(answer), "m=audio") {
		return fmt.Errorf("answer without audio")
	}
	m.mu.Lock()
	m.answers++
	m.mu.Unlock()
	return nil
}

func (m *fakeMedia) answerCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.answers
}

// startUA registers user at domain through the edge URL and returns the UA
// and its incoming calls. Start's error is returned, not fatal.
func startUA(t testing.TB, url, token, user, domain string) (*agentsip.UA, chan *agentsip.Call, error) {
	t.Helper()
	incoming := make(chan *agentsip.Call, 4)
	ua, err := agentsip.NewUA(agentsip.Config{
		URL: url, User: user, Domain: domain, Password: "pw" + user,
		Protocols:    func() []string { return []string{TokenProtocolPrefix + token} }, // as the browser offers it
		Logger:       testLogger(t),
		ReconnectMin: 5 * time.Second, // a refused registration must not race the test
		OnIncoming:   func(c *agentsip.Call) { incoming <- c },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ua.Close(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return ua, incoming, ua.Start(ctx)
}

// page is a raw SIP-over-WebSocket client for tests that send exact bytes.
type page struct {
	t  testing.TB
	ws *websocket.Conn
}

// dialPage opens a WebSocket to the edge offering "sip" and the token
// subprotocol, with extra headers; it fails the test unless it succeeds.
func dialPage(t testing.TB, url, token string, hdr http.Header) *page {
	t.Helper()
	ws, res, err := dialRaw(t, url, token, hdr)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, status)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return &page{t: t, ws: ws}
}

// dialRaw opens a WebSocket offering "sip" and, unless token is empty,
// "access_token.<token>".
func dialRaw(t testing.TB, url, token string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	protos := []string{Subprotocol}
	if token != "" {
		protos = append(protos, TokenProtocolPrefix+token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: protos, HTTPHeader: hdr})
}

func (p *page) send(msg string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		p.t.Fatalf("page write: %v", err)
	}
}

func (p *page) recv() string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := p.ws.Read(ctx)
	if err != nil {
		p.t.Fatalf("page read: %v", err)
	}
	return string(b)
}

// sipMsg joins header lines into a SIP message with an empty body.
func sipMsg(lines ...string) string {
	return strings.Join(lines, "\r\n") + "\r\nContent-Length: 0\r\n\r\n"
}

// register is a REGISTER from the page for user, with the page's branch.
func register(user, branch string) string {
	return sipMsg(
		"REGISTER sip:127.0.0.1 SIP/2.0",
		"Via: SIP/2.0/WS page.invalid;branch="+branch,
		"Max-Forwards: 70",
		"From: <sip:"+user+"@127.0.0.1>;tag=f"+branch,
		"To: <sip:"+user+"@127.0.0.1>",
		"Call-ID: reg-"+branch,
		"CSeq: 1 REGISTER",
		"Contact: <sip:"+user+"@page.invalid;transport=ws>;expires=600",
		"Supported: path",
	)
}

// header returns the value of the first header called name in a raw message.
func header(msg, name string) string {
	for _, v := range headers(msg, name) {
		return v
	}
	return ""
}

// headers returns the values of every header called name, in order.
func headers(msg, name string) []string {
	head, _, _ := strings.Cut(msg, "\r\n\r\n")
	var out []string
	for _, line := range strings.Split(head, "\r\n")[1:] {
		n, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(n), name) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// startLine is the first line of a raw message.
func startLine(msg string) string {
	l, _, _ := strings.Cut(msg, "\r\n")
	return l
}
