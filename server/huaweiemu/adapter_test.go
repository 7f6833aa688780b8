package huaweiemu

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbar/agentbar/internal/logbuf"
	"github.com/agentbar/agentbar/proxy/gateway"
	"github.com/agentbar/agentbar/proxy/huawei"
)

// adapterTimers is the adapter's After in these tests: heartbeat periods
// go to the test (beats), shorter pauses (flow control, back-off) pass at
// once on the emulator's clock.
type adapterTimers struct {
	clock *fakeClock
	beats chan chan time.Time
	mu    sync.Mutex
	waits []time.Duration
}

func (a *adapterTimers) After(d time.Duration) <-chan time.Time {
	a.mu.Lock()
	a.waits = append(a.waits, d)
	a.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d < 10*time.Second {
		a.clock.Advance(d)
		ch <- a.clock.Now()
		return ch
	}
	a.beats <- ch
	return ch
}

// beat waits for the adapter's next heartbeat pause.
func (a *adapterTimers) beat(t *testing.T) chan time.Time {
	t.Helper()
	select {
	case ch := <-a.beats:
		return ch
	case <-time.After(10 * time.Second):
		t.Fatal("no heartbeat pause")
		return nil
	}
}

// barEvents collects what the adapter hands the bar.
type barEvents struct {
	ch  chan gateway.Event
	mu  sync.Mutex
	all []gateway.Event
}

func (b *barEvents) sink(ev gateway.Event) {
	b.mu.Lock()
	b.all = append(b.all, ev)
	b.mu.Unlock()
	b.ch <- ev
}

// wait returns the next event matching pred and the ones it skipped.
func (b *barEvents) wait(t *testing.T, what string, pred func(gateway.Event) bool) (gateway.Event, []gateway.Event) {
	t.Helper()
	var skipped []gateway.Event
	for {
		select {
		case ev := <-b.ch:
			if pred(ev) {
				return ev, skipped
			}
			skipped = append(skipped, ev)
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s; got %+v", what, skipped)
		}
	}
}

func isState(st gateway.AgentState) func(gateway.Event) bool {
	return func(ev gateway.Event) bool { return ev.Type == gateway.EvAgentState && ev.State == st }
}

// TestAdapterPushMode runs the proxy's adapter against the emulator in
// push mode: events arrive by push only, the heartbeat follows the Guid
// rotation and renews the service token, forged pushes are refused with
// the seed's envelope and logged without the token, queries are paced
// within the flow control, and Stats reads the CMS figures through a
// cache.
func TestAdapterPushMode(t *testing.T) {
	var guids []string
	var guidMu sync.Mutex
	f := newFixture(t, func(c *Config) {
		c.IdleSignOut = time.Hour // the test moves the clock far
		c.OnGuid = func(g string) { guidMu.Lock(); guids = append(guids, g); guidMu.Unlock() }
	})
	tm := &adapterTimers{clock: f.clock, beats: make(chan chan time.Time, 8)}
	logs := &logbuf.Buffer{}
	cbSrv := httptest.NewUnstartedServer(nil)
	cb := "http://" + cbSrv.Listener.Addr().String() + huawei.PushPath
	a, err := huawei.New(huawei.Config{
		BaseURL: f.srv.URL, HTTPClient: f.srv.Client(),
		Agents: map[string]huawei.Agent{"ann": {WorkNo: "291", Password: "pw291", PhoneNumber: "40038"}},
		Now:    f.clock.Now, After: tm.After,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		CMS:    &huawei.CMSConfig{BaseURL: f.srv.URL, AK: tvAK, SK: tvSK, CCID: 1, VDN: 1},
		Push:   &huawei.PushConfig{CallbackURL: cb},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(huawei.PushPath, a.PushHandler())
	cbSrv.Config.Handler = mux
	cbSrv.Start()
	t.Cleanup(cbSrv.Close)
	emuToken := func() (guid, token string) {
		f.emu.mu.Lock()
		defer f.emu.mu.Unlock()
		s := f.emu.sessions["291"]
		return s.guid, s.token
	}

	bar := &barEvents{ch: make(chan gateway.Event, 64)}
	ctx := context.Background()
	sess, err := a.SignIn(ctx, "ann", gateway.SignInOptions{}, bar.sink)
	if err != nil {
		t.Fatal(err)
	}
	if ev, _ := bar.wait(t, "first state", func(gateway.Event) bool { return true }); ev.State != gateway.StateNotReady {
		t.Fatalf("first event %+v", ev)
	}
	bar.wait(t, "InService by push", func(ev gateway.Event) bool { return ev.Code == "AgentOther_InService" })
	if err := sess.Do(ctx, gateway.Command{Op: gateway.OpReady}); err != nil {
		t.Fatal(err)
	}
	bar.wait(t, "ready by push", isState(gateway.StateReady))

	// The first heartbeat comes after 30 s; by then the Guid is due for
	// rotation and the token for renewal.
	beat := tm.beat(t)
	tm.mu.Lock()
	if tm.waits[len(tm.waits)-1] != 30*time.Second {
		t.Fatalf("heartbeat pause %v", tm.waits)
	}
	tm.mu.Unlock()
	guid1, token1 := emuToken()
	f.clock.Advance(61 * time.Second)
	beat <- f.clock.Now()
	beat = tm.beat(t) // the heartbeat answered; the next pause began
	guid2, token2 := emuToken()
	if guid2 == guid1 || token2 == token1 || len(token2) == 0 || len(token2) > 50 {
		t.Fatalf("after the heartbeat: Guid rotated %v, token renewed %v", guid2 != guid1, token2 != token1)
	}
	// The old Guid expires; commands go on with the new one, and events
	// come pushed with the new token.
	f.clock.Advance(121 * time.Second)
	if err := sess.Do(ctx, gateway.Command{Op: gateway.OpNotReady}); err != nil {
		t.Fatalf("after the old Guid expired: %v", err)
	}
	bar.wait(t, "not ready by push", isState(gateway.StateNotReady))

	// Forged pushes are refused with the seed's envelope.
	forge := func(token string) string {
		req, _ := http.NewRequest(http.MethodPost, cb, strings.NewReader(`{"workNo":"291","eventList":[{"eventType":"AgentState_SetRest_Success","workNo":"291","content":{"reason":"1"}}]}`))
		req.Header.Set("Content-Type", "application/json; charset=UTF-8")
		if token != "" {
			req.Header["service_token"] = []string{token}
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var ans struct{ Message, Retcode string }
		if err := jsonDecode(res, &ans); err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("forged push: HTTP %d %v", res.StatusCode, err)
		}
		return ans.Retcode
	}
	// The token before the renewal stays good until the next one (pushes
	// under way may carry it); then it is refused too.
	f.clock.Advance(61 * time.Second)
	beat <- f.clock.Now()
	tm.beat(t)
	if _, token3 := emuToken(); token3 == token2 {
		t.Fatal("second renewal missing")
	}
	for token, want := range map[string]string{"WrongToken123": "000-003", token1: "000-003", "bad token!": "100-001", "": "100-001"} {
		if rc := forge(token); rc != want {
			t.Errorf("push with token %q: retcode %q, want %q", token, rc, want)
		}
	}
	if err := sess.Do(ctx, gateway.Command{Op: gateway.OpReady}); err != nil {
		t.Fatal(err)
	}
	if _, skipped := bar.wait(t, "ready", isState(gateway.StateReady)); len(skipped) > 0 {
		t.Fatalf("a forged push got through: %+v", skipped)
	}

	// Queries in a burst are paced, never refused (999-002).
	for i := range 8 {
		if _, err := sess.Snapshot(ctx); err != nil {
			t.Fatalf("snapshot %d: %v", i, err)
		}
	}
	paced := 0
	tm.mu.Lock()
	for _, d := range tm.waits {
		if d > 2*time.Second && d < 3*time.Second {
			paced++
		}
	}
	tm.mu.Unlock()
	if paced == 0 {
		t.Fatalf("no pause for the query flow control: %v", tm.waits)
	}

	// Stats: the agent's skill and its waiting calls, read through the
	// cache until it is StatsTTL old.
	if err := sess.Do(ctx, gateway.Command{Op: gateway.OpNotReady}); err != nil {
		t.Fatal(err)
	}
	bar.wait(t, "not ready", isState(gateway.StateNotReady))
	if _, err := f.cc.PlaceCall("support", "+15550100", nil); err != nil {
		t.Fatal(err)
	}
	src := sess.(gateway.StatsSource)
	st, err := src.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Queues) != 1 || st.Queues[0] != (gateway.QueueStats{ID: "1", Name: "Support", Waiting: 1}) || st.Agent == nil || *st.Agent != (gateway.AgentStats{}) {
		t.Fatalf("stats %+v agent %+v", st, st.Agent)
	}
	if _, err := f.cc.PlaceCall("support", "+15550111", nil); err != nil {
		t.Fatal(err)
	}
	if st, _ = src.Stats(ctx); st.Queues[0].Waiting != 1 {
		t.Fatalf("within the TTL: waiting %d, want the cached 1", st.Queues[0].Waiting)
	}
	f.clock.Advance(6 * time.Second)
	if st, _ = src.Stats(ctx); st.Queues[0].Waiting != 2 {
		t.Fatalf("after the TTL: waiting %d, want 2", st.Queues[0].Waiting)
	}

	if err := sess.Close(ctx); err != nil {
		t.Fatal(err)
	}
	bar.wait(t, "signed out", isState(gateway.StateSignedOut))

	// Nothing secret in the adapter's log; the refusals are there.
	text := logs.String()
	if !strings.Contains(text, "push refused") {
		t.Error("forged pushes not logged")
	}
	guidMu.Lock()
	secrets := append([]string{"pw291", "WrongToken123", token1, token2, tvSK}, guids...)
	guidMu.Unlock()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("secret %.6s... in the adapter's log", s)
		}
	}
}
