package huawei

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbar/agentbar/internal/logbuf"
	"github.com/agentbar/agentbar/proxy/gateway"
)

const (
	testWorkNo   = "291"
	testPassword = "Pw-S3cret-291!"
	testPhone    = "40038"
)

// recorded is one request the scripted CC-Gateway saw.
type recorded struct {
	Method, Path, Query, Guid string
	Token                     string // the service_token header
	Body                      map[string]any
}

// reply is a scripted answer for one operation.
type reply struct {
	Status  int
	Retcode string
	Result  string // raw JSON
	Block   bool   // no answer until the client gives up
}

// fakeCEC is a small scripted CC-Gateway faithful to the spec's C4 rules:
// Guid issued at sign-in in Set-GUID and Guid, checked on every other
// call (100-006 when wrong), rotation delivered on poll responses,
// 100-002 on a second sign-in, one event per poll.
type fakeCEC struct {
	t *testing.T

	mu       sync.Mutex
	signedIn bool
	guid     string
	guids    []string // every guid issued
	seq      int
	events   []string // raw event objects, queued
	wake     chan struct{}
	rotate   bool             // next poll answer rotates the guid
	pollPlan []reply          // scripted answers for the next polls
	replies  map[string]reply // by "METHOD op", op = path without the work number
	reqs     []recorded
	polls    int
	pollSeen chan int
}

func newFake(t *testing.T) (*fakeCEC, *httptest.Server) {
	f := &fakeCEC{t: t, wake: make(chan struct{}, 1), replies: map[string]reply{}, pollSeen: make(chan int, 100)}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeCEC) newGuid() string {
	f.seq++
	g := fmt.Sprintf("%08x-1111-2222-3333-%012x.AgentGateway1", 0xabc000+f.seq, 0xfeed00+f.seq)
	f.guids = append(f.guids, g)
	return g
}

// push queues raw event objects.
func (f *fakeCEC) push(evs ...string) {
	f.mu.Lock()
	f.events = append(f.events, evs...)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fakeCEC) setReply(key string, r reply) {
	f.mu.Lock()
	f.replies[key] = r
	f.mu.Unlock()
}

func (f *fakeCEC) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func (f *fakeCEC) currentGuid() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.guid
}

func writeEnv(w http.ResponseWriter, status int, rc, resultKey, result string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	if resultKey == "" {
		fmt.Fprintf(w, `{"message":"","retcode":%q}`, rc)
		return
	}
	fmt.Fprintf(w, `{"message":"","retcode":%q,%q:%s}`, rc, resultKey, result)
}

func (f *fakeCEC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const prefix = "/agentgateway/resource/"
	if !strings.HasPrefix(r.URL.Path, prefix) {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		f.t.Errorf("%s %s without JSON Content-Type", r.Method, r.URL.Path)
	}
	path := strings.TrimPrefix(r.URL.Path, prefix)
	segs := strings.Split(path, "/")
	if len(segs) < 2 || segs[1] != testWorkNo {
		writeEnv(w, 200, "000-002", "result", "{}")
		return
	}
	op := segs[0]
	if len(segs) > 2 {
		op += "/" + strings.Join(segs[2:], "/")
	}
	raw, _ := io.ReadAll(r.Body)
	rec := recorded{Method: r.Method, Path: op, Query: r.URL.RawQuery, Guid: r.Header.Get("Guid"), Token: r.Header.Get("service_token")}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &rec.Body); err != nil {
			f.t.Errorf("%s %s: body is not a JSON object: %v", r.Method, op, err)
		}
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, rec)
	f.mu.Unlock()

	switch {
	case r.Method == http.MethodPut && (op == "onlineagent" || op == "onlineagent/forcelogin"):
		f.signIn(w, op == "onlineagent/forcelogin", rec)
		return
	case op == "agentevent":
		f.poll(w, r, rec)
		return
	}
	f.mu.Lock()
	ok := f.signedIn && rec.Guid != "" && rec.Guid == f.guid
	rep, scripted := f.replies[r.Method+" "+op]
	if op == "onlineagent/logout" && ok {
		f.signedIn = false
	}
	f.mu.Unlock()
	if !ok {
		writeEnv(w, 200, "100-006", "result", "{}")
		return
	}
	if !scripted {
		rep = reply{Retcode: "0", Result: "{}"}
	}
	if rep.Block {
		<-r.Context().Done()
		return
	}
	if rep.Status == 0 {
		rep.Status = 200
	}
	writeEnv(w, rep.Status, rep.Retcode, "result", rep.Result)
}

func (f *fakeCEC) signIn(w http.ResponseWriter, force bool, rec recorded) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rec.Guid != "" {
		f.t.Errorf("sign-in sent a Guid header")
	}
	if rec.Body["password"] != testPassword || rec.Body["phonenum"] != testPhone {
		writeEnv(w, 200, "100-004", "result", "{}")
		return
	}
	if f.signedIn && !force {
		writeEnv(w, 200, "100-002", "result", "{}")
		return
	}
	f.signedIn = true
	f.guid = f.newGuid()
	w.Header().Set("Guid", f.guid)
	w.Header().Set("Set-GUID", "JSESSIONID="+f.guid)
	// Seed example (table 6-6): vdnid is a number, the rest strings.
	writeEnv(w, 200, "0", "result", `{"vdnid":1,"workno":"291","mediatype":"TTF","loginTime":"1471585949806","isForceChange":"false","serverName":"AgentGateway","timeRemaining":"9"}`)
}

func (f *fakeCEC) poll(w http.ResponseWriter, r *http.Request, rec recorded) {
	f.mu.Lock()
	f.polls++
	n := f.polls
	var plan *reply
	if len(f.pollPlan) > 0 {
		p := f.pollPlan[0]
		f.pollPlan = f.pollPlan[1:]
		plan = &p
	}
	ok := f.signedIn && rec.Guid == f.guid
	f.mu.Unlock()
	f.pollSeen <- n
	if r.Method != http.MethodGet {
		writeEnv(w, 200, "000-001", "event", "null")
		return
	}
	if plan != nil {
		if plan.Status != 0 && plan.Status != 200 {
			w.WriteHeader(plan.Status)
			return
		}
		writeEnv(w, 200, plan.Retcode, "event", "null")
		return
	}
	if !ok {
		writeEnv(w, 200, "100-006", "event", "null")
		return
	}
	// Long poll: an event now, or none after a short hold.
	hold := time.NewTimer(2 * time.Second)
	defer hold.Stop()
	for {
		f.mu.Lock()
		if f.rotate {
			f.rotate = false
			f.guid = f.newGuid() // the old guid is refused from now on (stricter than the spec's 120 s)
			w.Header().Set("Set-GUID", "JSESSIONID="+f.guid)
		}
		if len(f.events) > 0 {
			ev := f.events[0]
			f.events = f.events[1:]
			f.mu.Unlock()
			writeEnv(w, 200, "0", "event", ev)
			return
		}
		f.mu.Unlock()
		select {
		case <-f.wake:
		case <-hold.C:
			writeEnv(w, 200, "0", "event", "null")
			return
		case <-r.Context().Done():
			return
		}
	}
}

// clock is the injected clock: After either fires at once (auto) or hands
// the timer to the test (manual), recording every requested pause.
type clock struct {
	mu     sync.Mutex
	manual bool
	waits  []time.Duration
	timers chan timerReq
}

type timerReq struct {
	d    time.Duration
	fire chan time.Time
}

func newClock(manual bool) *clock { return &clock{manual: manual, timers: make(chan timerReq, 16)} }

func (c *clock) Now() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

func (c *clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if !c.manual {
		ch <- c.Now()
		return ch
	}
	c.timers <- timerReq{d, ch}
	return ch
}

// events collects what the sink receives.
type events struct {
	ch  chan gateway.Event
	mu  sync.Mutex
	all []gateway.Event
	bar sync.Mutex // detects concurrent sink calls
}

func newEvents() *events { return &events{ch: make(chan gateway.Event, 256)} }

func (e *events) sink(t *testing.T) func(gateway.Event) {
	return func(ev gateway.Event) {
		if !e.bar.TryLock() {
			t.Errorf("sink called concurrently")
			return
		}
		defer e.bar.Unlock()
		e.mu.Lock()
		e.all = append(e.all, ev)
		e.mu.Unlock()
		e.ch <- ev
	}
}

// next waits for the next event.
func (e *events) next(t *testing.T) gateway.Event {
	t.Helper()
	select {
	case ev := <-e.ch:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatalf("no event arrived")
	}
	return gateway.Event{}
}

// until waits for an event matching pred, returning the ones skipped too.
func (e *events) until(t *testing.T, pred func(gateway.Event) bool) gateway.Event {
	t.Helper()
	for {
		ev := e.next(t)
		if pred(ev) {
			return ev
		}
	}
}

type harness struct {
	f   *fakeCEC
	a   *Adapter
	clk *clock
	ev  *events
	log *logbuf.Buffer
}

func newHarness(t *testing.T, manual bool, mod func(*Config)) *harness {
	f, srv := newFake(t)
	h := &harness{f: f, clk: newClock(manual), ev: newEvents(), log: &logbuf.Buffer{}}
	cfg := Config{
		BaseURL:    srv.URL,
		HTTPClient: srv.Client(),
		Agents:     map[string]Agent{"alice": {WorkNo: testWorkNo, Password: testPassword, PhoneNumber: testPhone}},
		Now:        h.clk.Now,
		After:      h.clk.After,
		Logger:     slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Reasons:    []gateway.Reason{{Code: "201", Label: "Meeting"}, {Code: "10", Label: "Lunch", Rest: true}},
	}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.a = a
	return h
}

func (h *harness) signIn(t *testing.T, opts gateway.SignInOptions) gateway.Session {
	t.Helper()
	s, err := h.a.SignIn(context.Background(), "alice", opts, h.ev.sink(t))
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// ev builds a raw event object.
func rawEvent(typ, content string) string {
	return fmt.Sprintf(`{"eventType":%q,"workNo":"291","content":%s}`, typ, content)
}
