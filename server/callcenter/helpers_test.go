package callcenter

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
	"github.com/agentbar/agentbar/sip"
)

// waitTimeout bounds every wait for an event in these tests.
const waitTimeout = 15 * time.Second

// testWriter sends log lines to t.Log until the test is over.
type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	level := slog.LevelInfo
	if os.Getenv("CALLCENTER_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// testPassword is the SIP password of a digest username in these tests.
func testPassword(username string) (string, bool) {
	id, _ := agentOfUsername(username, time.Now())
	return "pw-" + id, true
}

// newTestCC starts a call center on loopback with fake media: agents a1
// and a2 in "support", a3 in "sales", phones over WebSocket.
func newTestCC(t *testing.T, mod func(*Config)) (*CallCenter, *FakeMedia) {
	t.Helper()
	fm := NewFakeMedia()
	cfg := Config{
		SIPListen:   "127.0.0.1:0",
		WSListen:    "127.0.0.1:0",
		TrunkListen: "127.0.0.1:0",
		Queues:      []QueueConfig{{ID: "support", Name: "Support"}, {ID: "sales", Name: "Sales"}},
		Agents: []AgentConfig{
			{ID: "a1", Name: "Ann", Queues: []string{"support"}},
			{ID: "a2", Name: "Bob", Queues: []string{"support"}},
			{ID: "a3", Name: "Cid", Queues: []string{"sales"}},
		},
		WrapUp:      time.Hour,
		SIPPassword: testPassword,
		Media:       fm,
		Logger:      testLogger(t),
	}
	if mod != nil {
		mod(&cfg)
	}
	cc, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := cc.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return cc, fm
}

// recorder collects a session's events for the test to wait on.
type recorder struct {
	t      testing.TB
	name   string
	mu     sync.Mutex
	events []gateway.Event
	next   int // events before next were consumed by wait
	wake   chan struct{}
}

func newRecorder(t testing.TB, name string) *recorder {
	return &recorder{t: t, name: name, wake: make(chan struct{}, 1)}
}

func (r *recorder) sink(e gateway.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// wait returns the first event not yet consumed that matches, consuming
// it and all before it.
func (r *recorder) wait(what string, match func(gateway.Event) bool) gateway.Event {
	r.t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		for i := r.next; i < len(r.events); i++ {
			if match(r.events[i]) {
				r.next = i + 1
				e := r.events[i]
				r.mu.Unlock()
				return e
			}
		}
		seen := describe(r.events[r.next:])
		r.mu.Unlock()
		select {
		case <-r.wake:
		case <-deadline.C:
			r.t.Fatalf("%s: no %s; unconsumed events: %s", r.name, what, seen)
		}
	}
}

// state waits for agent.state st (with reason, if given).
func (r *recorder) state(st gateway.AgentState, reason string) gateway.Event {
	r.t.Helper()
	return r.wait(fmt.Sprintf("state %s(%s)", st, reason), func(e gateway.Event) bool {
		return e.Type == gateway.EvAgentState && e.State == st && (reason == "" || e.Reason == reason)
	})
}

// call waits for a call event of type typ.
func (r *recorder) call(typ gateway.EventType) gateway.Event {
	r.t.Helper()
	return r.wait(string(typ), func(e gateway.Event) bool { return e.Type == typ })
}

// ended waits for call.ended with the given cause.
func (r *recorder) ended(cause string) gateway.Event {
	r.t.Helper()
	return r.wait("call.ended "+cause, func(e gateway.Event) bool { return e.Type == gateway.EvCallEnded && e.Cause == cause })
}

func describe(evs []gateway.Event) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(string(e.Type))
		if e.State != "" {
			fmt.Fprintf(&b, "(%s %s)", e.State, e.Reason)
		}
		if e.Call != nil {
			fmt.Fprintf(&b, "[%s %s]", e.Call.State, e.Cause)
		}
		b.WriteString(" ")
	}
	return b.String()
}

// agentUnderTest is a signed-in agent with its phone.
type agentUnderTest struct {
	id    string
	sess  *AgentSession
	ev    *recorder
	phone *phone
}

// signIn registers a's phone (answering as mode says) and signs a in,
// not ready.
func signIn(t *testing.T, cc *CallCenter, id string, mode phoneMode) *agentUnderTest {
	t.Helper()
	return signInAt(t, cc, "ws://"+cc.Addrs().WS, id, mode)
}

// signInAt is signIn with the phone registering through the WebSocket at url.
func signInAt(t *testing.T, cc *CallCenter, url, id string, mode phoneMode) *agentUnderTest {
	t.Helper()
	p := newPhoneAt(t, url, id, mode)
	ev := newRecorder(t, id)
	s, err := cc.SignIn(id, gateway.SignInOptions{}, ev.sink)
	if err != nil {
		t.Fatalf("SignIn %s: %v", id, err)
	}
	ev.state(gateway.StateNotReady, "")
	return &agentUnderTest{id: id, sess: s, ev: ev, phone: p}
}

// do runs a command that must be accepted.
func (a *agentUnderTest) do(t *testing.T, cmd gateway.Command) {
	t.Helper()
	if err := a.sess.Do(context.Background(), cmd); err != nil {
		t.Fatalf("%s %s: %v", a.id, cmd.Op, err)
	}
}

// ready makes the agent ready and waits for the state.
func (a *agentUnderTest) ready(t *testing.T) {
	t.Helper()
	a.do(t, gateway.Command{Op: gateway.OpReady})
	a.ev.state(gateway.StateReady, "")
}

// phoneMode says what a test phone does with incoming calls.
type phoneMode int

const (
	answerCalls phoneMode = iota + 1 // answer at once
	rejectCalls                      // 486 Busy Here
	ignoreCalls                      // let them ring
)

// phone is an agent's soft phone: our sip.UA over WebSocket.
type phone struct {
	t     testing.TB
	ua    *sip.UA
	mode  phoneMode
	calls chan *sip.Call
	mu    sync.Mutex
	media []*phoneMedia
}

// newPhoneAt is newPhone registering through the WebSocket at url.
func newPhoneAt(t *testing.T, url, agentID string, mode phoneMode) *phone {
	t.Helper()
	p := &phone{t: t, mode: mode, calls: make(chan *sip.Call, 16)}
	ua, err := sip.NewUA(sip.Config{
		URL:    url,
		User:   agentID,
		Domain: "agentbar.local",
		Credentials: func(context.Context) (string, string, error) {
			user := fmt.Sprintf("%d:%s", time.Now().Add(time.Hour).Unix(), agentID)
			pw, _ := testPassword(user)
			return user, pw, nil
		},
		KeepAlive:  -1,
		OnIncoming: p.incoming,
		Logger:     testLogger(t),
	})
	if err != nil {
		t.Fatalf("NewUA: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := ua.Start(ctx); err != nil {
		t.Fatalf("phone %s: register: %v", agentID, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ua.Close(ctx)
	})
	p.ua = ua
	return p
}

func (p *phone) incoming(c *sip.Call) {
	switch p.mode {
	case answerCalls:
		m := &phoneMedia{}
		p.mu.Lock()
		p.media = append(p.media, m)
		p.mu.Unlock()
		if err := c.Answer(context.Background(), m); err != nil {
			p.t.Errorf("phone: answer: %v", err)
		}
	case rejectCalls:
		c.Reject(486, "Busy Here")
	}
	p.calls <- c
}

// next waits for the phone's next incoming call.
func (p *phone) next() *sip.Call {
	p.t.Helper()
	select {
	case c := <-p.calls:
		return c
	case <-time.After(waitTimeout):
		p.t.Fatal("phone: no incoming call")
		return nil
	}
}

// lastMedia is the media of the last call the phone answered.
func (p *phone) lastMedia() *phoneMedia {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.media) == 0 {
		p.t.Fatal("phone: no answered call")
	}
	return p.media[len(p.media)-1]
}

// waitEnded waits until c has ended.
func waitEnded(t testing.TB, c *sip.Call) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(waitTimeout):
		t.Fatalf("phone: call %s did not end", c.ID())
	}
}

// phoneMedia is the phone's fake media: plain SDP, and a record of every
// offer the call center sent.
type phoneMedia struct {
	mu     sync.Mutex
	n      int
	offers []string
}

func (m *phoneMedia) sdp(dir string) []byte {
	m.n++
	return plainSDP(m.n, 50000, dir)
}

func (m *phoneMedia) Offer(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sdp(dirSendRecv), nil
}

func (m *phoneMedia) Answer(_ context.Context, offer []byte) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.offers = append(m.offers, string(offer))
	return m.sdp(answerDirection(sdpDirection(offer))), nil
}

func (m *phoneMedia) SetAnswer(context.Context, []byte, bool) error { return nil }

// lastDirection is the direction of the last offer the phone received.
func (m *phoneMedia) lastDirection() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.offers) == 0 {
		return ""
	}
	return sdpDirection([]byte(m.offers[len(m.offers)-1]))
}

// stats reads a call's stats, which must exist.
func stats(t testing.TB, cc *CallCenter, id string) CallStats {
	t.Helper()
	s, ok := cc.CallStats(id)
	if !ok {
		t.Fatalf("no stats for call %s", id)
	}
	return s
}
