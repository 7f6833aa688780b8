package huawei

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentbar/agentbar/internal/logbuf"
	"github.com/agentbar/agentbar/proxy/gateway"
)

// restartCEC forgets the fake's session, as a restarted CC-Gateway does:
// the next poll with the old Guid is answered 100-006.
func restartCEC(f *fakeCEC) {
	f.mu.Lock()
	f.signedIn, f.guid = false, ""
	f.mu.Unlock()
	f.push(rawEvent("AgentOther_PhoneRelease", "null")) // ends the held poll at once
}

func TestResignInAfterRestart(t *testing.T) {
	h := newHarness(t, false, nil)
	s := h.signIn(t, gateway.SignInOptions{})
	if ev := h.ev.next(t); ev.State != gateway.StateNotReady {
		t.Fatalf("first event %+v", ev)
	}
	restartCEC(h.f)
	h.ev.until(t, func(e gateway.Event) bool { return e.Type == gateway.EvNotice && e.Code == "session_restored" })
	if ev := h.ev.next(t); ev.Type != gateway.EvAgentState || ev.State != gateway.StateNotReady {
		t.Fatalf("after the notice %+v, want a fresh not_ready", ev)
	}
	h.f.mu.Lock()
	issued := len(h.f.guids)
	h.f.mu.Unlock()
	if issued != 2 {
		t.Fatalf("%d Guids issued, want 2 (sign-in and re-sign-in)", issued)
	}
	if err := s.Do(context.Background(), gateway.Command{Op: gateway.OpReady}); err != nil {
		t.Fatalf("Do after the re-sign-in: %v", err)
	}
	if r, _ := findReq(h.f.requests(), "POST", "onlineagent/sayfree"); r.Guid != h.f.guids[1] {
		t.Error("command did not use the new session's Guid")
	}
	if strings.Contains(h.log.String(), testPassword) || strings.Contains(h.log.String(), h.f.guids[0]) {
		t.Error("a secret reached the log")
	}
}

// flakySignIn answers every sign-in 999-002 (overloaded) while on.
type flakySignIn struct {
	f        *fakeCEC
	on       atomic.Bool
	attempts atomic.Int32
}

func (x *flakySignIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if x.on.Load() && r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/onlineagent/"+testWorkNo) {
		x.attempts.Add(1)
		writeEnv(w, 200, "999-002", "result", "{}")
		return
	}
	x.f.ServeHTTP(w, r)
}

func TestResignInBoundedThenSignedOut(t *testing.T) {
	f := &fakeCEC{t: t, wake: make(chan struct{}, 1), replies: map[string]reply{}, pollSeen: make(chan int, 100)}
	x := &flakySignIn{f: f}
	srv := httptest.NewServer(x)
	t.Cleanup(srv.Close)
	clk, ev, log := newClock(false), newEvents(), &logbuf.Buffer{}
	a, err := New(Config{
		BaseURL: srv.URL, HTTPClient: srv.Client(),
		Agents: map[string]Agent{"alice": {WorkNo: testWorkNo, Password: testPassword, PhoneNumber: testPhone}},
		Now:    clk.Now, After: clk.After,
		Logger:           slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		ResignInAttempts: 3, ResignInBackoff: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := a.SignIn(context.Background(), "alice", gateway.SignInOptions{}, ev.sink(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	ev.next(t)
	x.on.Store(true)
	restartCEC(f)
	n := ev.until(t, func(e gateway.Event) bool {
		return e.Type == gateway.EvNotice && e.Code == string(gateway.CodeSessionLost)
	})
	if n.Code != string(gateway.CodeSessionLost) || !strings.Contains(n.Message, "100-006") {
		t.Fatalf("notice %+v", n)
	}
	if e := ev.next(t); e.State != gateway.StateSignedOut {
		t.Fatalf("after failed re-sign-ins %+v, want signed_out", e)
	}
	<-s.(*session).done
	if got := x.attempts.Load(); got != 3 {
		t.Fatalf("%d re-sign-ins, want 3", got)
	}
	clk.mu.Lock()
	var backs []time.Duration
	for _, d := range clk.waits {
		if d >= 500*time.Millisecond {
			backs = append(backs, d)
		}
	}
	clk.mu.Unlock()
	if len(backs) != 2 || backs[0] != 500*time.Millisecond || backs[1] != time.Second {
		t.Fatalf("backoffs %v, want [500ms 1s]", backs)
	}
}
