package callcenter

import (
	"slices"
	"testing"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// TestFigures: a queue's waiting callers and ready agents, and an agent's
// answered, missed and talk figures, as the bar's statistics show them.
func TestFigures(t *testing.T) {
	cc, _ := newTestCC(t, func(c *Config) { c.RingTimeout = 300 * time.Millisecond })
	a1 := signIn(t, cc, "a1", answerCalls)
	a2 := signIn(t, cc, "a2", ignoreCalls)

	id, err := cc.PlaceCall("support", "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	q := cc.QueueFigures("support", "nope")
	if len(q) != 1 || q[0].ID != "support" || q[0].Name != "Support" || q[0].Waiting != 1 || q[0].Ready != 0 {
		t.Fatalf("with a caller waiting and nobody ready: %+v", q)
	}
	if all := cc.QueueFigures(); len(all) != 2 || all[1].ID != "sales" || all[1].Waiting != 0 {
		t.Fatalf("all queues: %+v", all)
	}

	// a2 is offered the call, lets it ring out (missed), and is set not ready.
	a2.ready(t)
	a2.ev.call(gateway.EvCallRinging)
	a2.ev.ended(ReasonMissed)
	a1.ready(t)
	if a1.ev.call(gateway.EvCallAnswered).Call.ID != id {
		t.Fatal("a1 answered another call")
	}
	// a2's phone rang (our UA sends 180 at once): its INVITE-to-180 time
	// is first. a1's may be missing: its 200 follows the 180 at once, and
	// sipgo's transaction may take the 200 first and drop the 180.
	if r := stats(t, cc, id).Rang; len(r) < 1 || len(r) > 2 || slices.ContainsFunc(r, func(d time.Duration) bool { return d <= 0 }) {
		t.Fatalf("INVITE to 180 times %v, want a2's (and maybe a1's)", r)
	}
	st, err := a1.sess.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Agent == nil || st.Agent.Answered != 1 || st.Agent.Missed != 0 || len(st.Queues) != 1 || st.Queues[0].Waiting != 0 || st.Queues[0].Ready != 0 {
		t.Fatalf("a1 talking: %+v %+v", st, st.Agent)
	}
	time.Sleep(1100 * time.Millisecond) // talk for a whole second: talk_time counts seconds
	a1.do(t, gateway.Command{Op: gateway.OpHangup})
	a1.ev.ended(CauseAgentHangup)
	f1, _ := cc.AgentFigures("a1")
	f2, _ := cc.AgentFigures("a2")
	if f1.Answered != 1 || f1.TalkTime < time.Second || f2.Missed != 1 || f2.Answered != 0 {
		t.Fatalf("after the call: a1 %+v, a2 %+v", f1, f2)
	}
	if st, _ := a1.sess.Stats(t.Context()); st.Agent.TalkTime < 1 {
		t.Fatalf("a1's talk_time %d s after a call of over a second", st.Agent.TalkTime)
	}
	if _, ok := cc.AgentFigures("nobody"); ok {
		t.Fatal("figures for an unknown agent")
	}
}

// TestReadyCounts: the per-queue ready counts follow every way an agent
// becomes or stops being ready (ready, not ready, an offer, a forced
// sign-in, sign-out) and always equal a count over the agents.
func TestReadyCounts(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	check := func(step string, want map[string]int) {
		t.Helper()
		cc.mu.Lock()
		recount := map[string]int{}
		for _, a := range cc.agents {
			for _, q := range a.joined {
				if a.sess != nil && a.state == gateway.StateReady {
					recount[q]++
				}
			}
		}
		cc.mu.Unlock()
		for _, f := range cc.QueueFigures() {
			if f.Ready != want[f.ID] || f.Ready != recount[f.ID] {
				t.Fatalf("%s: %s has %d ready, want %d (agents say %d)", step, f.ID, f.Ready, want[f.ID], recount[f.ID])
			}
		}
	}
	a1 := signIn(t, cc, "a1", answerCalls)
	a2 := signIn(t, cc, "a2", ignoreCalls)
	a3 := signIn(t, cc, "a3", answerCalls)
	check("signed in", nil)
	a1.ready(t)
	a2.ready(t)
	a3.ready(t)
	check("all ready", map[string]int{"support": 2, "sales": 1})
	a1.do(t, gateway.Command{Op: gateway.OpNotReady})
	a1.ev.state(gateway.StateNotReady, "")
	check("a1 not ready", map[string]int{"support": 1, "sales": 1})
	if _, err := cc.PlaceCall("support", "alice", nil); err != nil {
		t.Fatal(err)
	}
	a2.ev.call(gateway.EvCallRinging)
	check("a2 offered a call", map[string]int{"sales": 1})
	a2.do(t, gateway.Command{Op: gateway.OpReject})
	a2.ev.state(gateway.StateNotReady, ReasonRejected)
	a1.ready(t)
	a1.ev.call(gateway.EvCallAnswered)
	a2.ready(t)
	check("a1 talking, a2 ready again", map[string]int{"support": 1, "sales": 1})
	// A forced sign-in keeps a3 ready in its queue, counted once.
	if _, err := cc.SignIn("a3", gateway.SignInOptions{Force: true}, newRecorder(t, "a3 again").sink); err != nil {
		t.Fatal(err)
	}
	check("a3 signed in again", map[string]int{"support": 1, "sales": 1})
	if err := a2.sess.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	check("a2 signed out", map[string]int{"sales": 1})
}
