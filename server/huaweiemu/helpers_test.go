package huaweiemu

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbar/agentbar/server/callcenter"
	"github.com/agentbar/agentbar/sip"
)

// fakeClock is an injectable clock the tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testLogWriter sends log lines to t.Log until the test is over.
type testLogWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	w := &testLogWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, nil))
}

// fixture is a call center, an emulator in front of it and its server.
type fixture struct {
	t     *testing.T
	cc    *callcenter.CallCenter
	emu   *Emulator
	srv   *httptest.Server
	clock *fakeClock
}

// newFixture starts a call center (fake media, phones over WebSocket,
// see newPhone) with agents 291, 292 and 293 in queue "support", and the
// emulator with a fake clock and a short poll hold.
func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	log := testLogger(t)
	cc, err := callcenter.New(callcenter.Config{
		SIPListen:   "127.0.0.1:0",
		WSListen:    "127.0.0.1:0",
		TrunkListen: "off",
		Queues:      []callcenter.QueueConfig{{ID: "support", Name: "Support"}},
		Agents: []callcenter.AgentConfig{
			{ID: "291", Name: "Ann", Queues: []string{"support"}},
			{ID: "292", Name: "Bob", Queues: []string{"support"}},
			{ID: "293", Name: "Cid", Queues: []string{"support"}},
		},
		WrapUp: time.Hour,
		Logger: log,
	})
	if err != nil {
		t.Fatalf("callcenter.New: %v", err)
	}
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	cfg := Config{
		Gateway: cc.Gateway(),
		Agents: map[string]Agent{
			"291": {Password: "pw291", PhoneNumber: "40038", Queues: []string{"support"}},
			"292": {Password: "pw292", Queues: []string{"support"}},
			"293": {Password: "pw293", Queues: []string{"support"}},
		},
		Queues:   []Queue{{ID: "support", Name: "Support"}},
		PollHold: 100 * time.Millisecond,
		AKSK:     map[string]string{"globalaktest": "TestSecretKey-0001"},
		Clock:    clock.Now,
		Logger:   log,
	}
	if mod != nil {
		mod(&cfg)
	}
	emu, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(func() {
		srv.Close()
		emu.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := cc.Close(ctx); err != nil {
			t.Errorf("callcenter Close: %v", err)
		}
	})
	return &fixture{t: t, cc: cc, emu: emu, srv: srv, clock: clock}
}

// resp is one decoded CC-Gateway answer.
type resp struct {
	status  int
	header  http.Header
	Message string          `json:"message"`
	Retcode string          `json:"retcode"`
	Result  json.RawMessage `json:"result"`
	Event   *struct {
		EventType string          `json:"eventType"`
		WorkNo    string          `json:"workNo"`
		Content   json.RawMessage `json:"content"`
	} `json:"event"`
	hasResult bool
}

// call sends one request to the emulator: path is under
// /agentgateway/resource/, body is JSON-encoded unless nil.
func (f *fixture) call(method, path, guid string, body any) resp {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, f.srv.URL+resourcePrefix+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	if guid != "" {
		req.Header.Set("Guid", guid)
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &r); err != nil {
			f.t.Fatalf("%s %s: bad JSON %q: %v", method, path, raw, err)
		}
		var keys map[string]json.RawMessage
		_ = json.Unmarshal(raw, &keys)
		_, r.hasResult = keys["result"]
	}
	return r
}

// expect fails unless r has the retcode.
func (f *fixture) expect(r resp, code, what string) {
	f.t.Helper()
	if r.status != http.StatusOK || r.Retcode != code {
		f.t.Fatalf("%s: HTTP %d retcode %q (%s), want %q", what, r.status, r.Retcode, r.Message, code)
	}
}

// signIn signs agent in with body fields on top of the defaults and
// returns the Guid.
func (f *fixture) signIn(agent, password, phone string, extra map[string]any) string {
	f.t.Helper()
	body := map[string]any{"password": password, "phonenum": phone, "status": "4", "releasephone": "true", "agenttype": "4"}
	for k, v := range extra {
		body[k] = v
	}
	r := f.call(http.MethodPut, "onlineagent/"+agent, "", body)
	f.expect(r, "0", "sign-in")
	g := r.header.Get("Guid")
	if g == "" || r.header.Get("Set-GUID") != "JSESSIONID="+g {
		f.t.Fatalf("sign-in headers: Guid %q Set-GUID %q", g, r.header.Get("Set-GUID"))
	}
	return g
}

// poll polls once and returns the event type ("" for none) and content.
func (f *fixture) poll(agent, guid string) (string, json.RawMessage, resp) {
	f.t.Helper()
	r := f.call(http.MethodGet, "agentevent/"+agent, guid, nil)
	if r.Retcode != "0" || r.Event == nil {
		return "", nil, r
	}
	if r.Event.WorkNo != agent {
		f.t.Fatalf("event %s for workNo %q, want %q", r.Event.EventType, r.Event.WorkNo, agent)
	}
	return r.Event.EventType, r.Event.Content, r
}

// next polls until an event arrives (a few holds at most) and checks its type.
func (f *fixture) next(agent, guid, want string) json.RawMessage {
	f.t.Helper()
	for range 50 {
		typ, content, r := f.poll(agent, guid)
		if r.Retcode != "0" {
			f.t.Fatalf("poll for %s: retcode %q", want, r.Retcode)
		}
		if typ == "" {
			continue
		}
		if typ != want {
			f.t.Fatalf("event %s (%s), want %s", typ, content, want)
		}
		return content
	}
	f.t.Fatalf("no %s event", want)
	return nil
}

// drain polls until the queue is empty.
func (f *fixture) drain(agent, guid string) {
	f.t.Helper()
	for range 50 {
		if typ, _, _ := f.poll(agent, guid); typ == "" {
			return
		}
	}
}

// newPhone registers agent's SIP phone on the call center's WebSocket
// listener (SIP authentication is off in the fixture); it answers every
// call at once.
func (f *fixture) newPhone(agent string) {
	f.t.Helper()
	t := f.t
	ua, err := sip.NewUA(sip.Config{
		URL: "ws://" + f.cc.Addrs().WS, User: agent, Domain: "agentbar.local", KeepAlive: -1,
		OnIncoming: func(c *sip.Call) {
			if err := c.Answer(context.Background(), phoneMedia{}); err != nil {
				t.Errorf("phone %s: answer: %v", agent, err)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ua.Start(ctx); err != nil {
		t.Fatalf("phone %s: %v", agent, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ua.Close(ctx)
	})
}

// phoneMedia answers any offer with plain PCMU (the call center's media
// is fake).
type phoneMedia struct{}

func (phoneMedia) sdp() []byte {
	return []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 50000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")
}
func (m phoneMedia) Offer(context.Context) ([]byte, error)          { return m.sdp(), nil }
func (m phoneMedia) Answer(context.Context, []byte) ([]byte, error) { return m.sdp(), nil }
func (phoneMedia) SetAnswer(context.Context, []byte, bool) error    { return nil }

// until polls agent with guid until an event of type want arrives,
// skipping others, and returns its content.
func (f *fixture) until(agent, guid, want string) json.RawMessage {
	f.t.Helper()
	var seen []string
	for range 100 {
		typ, content, r := f.poll(agent, guid)
		if r.Retcode != "0" {
			f.t.Fatalf("poll for %s: retcode %q", want, r.Retcode)
		}
		if typ == want {
			return content
		}
		if typ != "" {
			seen = append(seen, typ)
		}
	}
	f.t.Fatalf("no %s event; got %v", want, seen)
	return nil
}

// jsonDecode decodes an HTTP answer's JSON body.
func jsonDecode(res *http.Response, v any) error { return json.NewDecoder(res.Body).Decode(v) }
