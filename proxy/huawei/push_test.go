package huawei

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentbar/agentbar/internal/logbuf"
	"github.com/agentbar/agentbar/proxy/gateway"
)

func TestPushConfigAndTokens(t *testing.T) {
	for _, bad := range []PushConfig{{CallbackURL: "ftp://x/y"}, {CallbackURL: "http://x/" + strings.Repeat("a", 200)}, {CallbackURL: "http://x", Heartbeat: 2 * time.Minute}} {
		if err := bad.check(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	p := PushConfig{CallbackURL: "https://bar.example.com" + PushPath}
	if err := p.check(); err != nil || p.Heartbeat != 30*time.Second || p.TokenRefresh != time.Minute {
		t.Fatalf("defaults %+v (%v)", p, err)
	}
	for tok, ok := range map[string]bool{"abcXYZ019": true, "": false, "a b": false, "a-b": false, strings.Repeat("a", 50): true, strings.Repeat("a", 51): false} {
		if validServiceToken(tok) != ok {
			t.Errorf("validServiceToken(%q) != %v", tok, ok)
		}
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ps := newPushState(t0)
	first := ps.current()
	if !validServiceToken(first) || len(first) != 32 {
		t.Fatalf("token %q", first)
	}
	// Not renewed before the sign-in confirmed it, nor before a minute.
	if ps.next(t0.Add(time.Hour), time.Minute) != first {
		t.Fatal("renewed an unconfirmed token")
	}
	ps.confirm(first)
	if ps.next(t0.Add(30*time.Second), time.Minute) != first {
		t.Fatal("renewed before TokenRefresh")
	}
	second := ps.next(t0.Add(time.Minute), time.Minute)
	if second == first || !ps.accepts(first) || !ps.accepts(second) || ps.accepts("other") {
		t.Fatal("renewal: both tokens must be accepted, no other")
	}
	// The heartbeat with the new token failed: no third token yet.
	if ps.next(t0.Add(3*time.Minute), time.Minute) != second {
		t.Fatal("renewed again before CC-Gateway confirmed the new token")
	}
	ps.confirm(second)
	third := ps.next(t0.Add(3*time.Minute), time.Minute)
	if ps.accepts(first) || !ps.accepts(second) || !ps.accepts(third) {
		t.Fatal("the token two renewals old is still accepted")
	}
}

// TestPushSession runs push mode against the scripted CC-Gateway, which
// pushes an event during the sign-in, before answering it: that event
// reaches the bar after the first state. Heartbeats carry the Guid and
// the token every 30 s; no event poll is made; a heartbeat answered
// 100-006 signs the agent in again, in push mode.
func TestPushSession(t *testing.T) {
	f := &fakeCEC{t: t, wake: make(chan struct{}, 1), replies: map[string]reply{}, pollSeen: make(chan int, 100)}
	cb := httptest.NewUnstartedServer(nil)
	cbURL := "http://" + cb.Listener.Addr().String() + PushPath
	early := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Path == "/agentgateway/resource/onlineagent/"+testWorkNo {
			raw, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(raw))
			var in struct {
				CallbackURI  string `json:"callbackUri"`
				ServiceToken string `json:"serviceToken"`
			}
			if err := json.Unmarshal(raw, &in); err != nil || in.CallbackURI != cbURL || !validServiceToken(in.ServiceToken) {
				t.Errorf("push sign-in body %s", raw)
			}
			req, _ := http.NewRequest(http.MethodPost, in.CallbackURI, strings.NewReader(`{"workNo":"291","eventList":[`+rawEvent("AgentOther_InService", "null")+`]}`))
			req.Header["service_token"] = []string{in.ServiceToken}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
			} else {
				var ans struct{ Retcode string }
				_ = json.NewDecoder(res.Body).Decode(&ans)
				res.Body.Close()
				early <- ans.Retcode
			}
		}
		f.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	clk, ev, logs := newClock(true), newEvents(), &logbuf.Buffer{}
	a, err := New(Config{
		BaseURL: srv.URL, HTTPClient: srv.Client(),
		Agents: map[string]Agent{"alice": {WorkNo: testWorkNo, Password: testPassword, PhoneNumber: testPhone}},
		Now:    clk.Now, After: clk.After,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Push:   &PushConfig{CallbackURL: cbURL},
	})
	if err != nil {
		t.Fatal(err)
	}
	cb.Config.Handler = a.PushHandler()
	cb.Start()
	t.Cleanup(cb.Close)
	s, err := a.SignIn(context.Background(), "alice", gateway.SignInOptions{}, ev.sink(t))
	if err != nil {
		t.Fatal(err)
	}
	if rc := <-early; rc != "0" {
		t.Fatalf("push during the sign-in: retcode %q", rc)
	}
	if e := ev.next(t); e.Type != gateway.EvAgentState || e.State != gateway.StateNotReady {
		t.Fatalf("first event %+v", e)
	}
	if e := ev.next(t); e.Code != "AgentOther_InService" {
		t.Fatalf("second event %+v", e)
	}
	pause := func() timerReq {
		t.Helper()
		tr := <-clk.timers
		if tr.d != 30*time.Second {
			t.Fatalf("heartbeat pause %v", tr.d)
		}
		return tr
	}
	pause().fire <- clk.Now()
	next := pause() // the heartbeat was answered
	hb, _ := findReq(f.requests(), http.MethodPost, "onlineagent/handshake")
	if hb.Guid != f.currentGuid() || !validServiceToken(hb.Token) {
		t.Fatalf("heartbeat: Guid ok %v, token ok %v", hb.Guid == f.currentGuid(), validServiceToken(hb.Token))
	}
	// CC-Gateway restarts: the next heartbeat gets 100-006.
	f.mu.Lock()
	f.signedIn, f.guid = false, ""
	f.mu.Unlock()
	next.fire <- clk.Now()
	ev.until(t, func(e gateway.Event) bool { return e.Code == "session_restored" })
	if rc := <-early; rc != "0" {
		t.Fatalf("push during the re-sign-in: retcode %q", rc)
	}
	for _, r := range f.requests() {
		if r.Path == "agentevent" {
			t.Fatal("an event poll in push mode")
		}
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), hb.Token) || strings.Contains(logs.String(), testPassword) {
		t.Error("a secret reached the log")
	}
}
