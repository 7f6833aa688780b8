package callcenter

import (
	"slices"
	"testing"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

func TestWrapUpEndsAtDeadline(t *testing.T) {
	base := time.Now()
	cc, _ := newTestCC(t, func(c *Config) {
		c.Agents[0].WrapUp = 200 * time.Millisecond
		c.Clock = func() time.Time { return base } // deadlines computed from a clock that stands still
	})
	a1 := signIn(t, cc, "a1", answerCalls)
	a1.ready(t)
	id, err := cc.PlaceCall("support", "bob", nil)
	if err != nil {
		t.Fatal(err)
	}
	a1.ev.call(gateway.EvCallAnswered)
	pc := a1.phone.next()
	if err := cc.CustomerHangup(id); err != nil {
		t.Fatal(err)
	}
	a1.ev.ended(CauseCustomerHangup)
	wu := a1.ev.state(gateway.StateWrapUp, "")
	if !wu.Deadline.Equal(base.Add(200 * time.Millisecond)) {
		t.Errorf("wrap-up deadline %v, want the clock + 200ms", wu.Deadline.Sub(base))
	}
	waitEnded(t, pc)
	a1.ev.state(gateway.StateReady, "")
	if snap, _ := a1.sess.Snapshot(t.Context()); snap.State != gateway.StateReady || len(snap.Calls) != 0 {
		t.Errorf("snapshot after wrap-up = %+v", snap)
	}
}

func TestLongestIdleAgentGetsTheCall(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	a2 := signIn(t, cc, "a2", answerCalls)
	a1 := signIn(t, cc, "a1", answerCalls)
	a2.ready(t) // ready first: idle longest
	a1.ready(t)
	if _, err := cc.PlaceCall("support", "c1", nil); err != nil {
		t.Fatal(err)
	}
	a2.ev.call(gateway.EvCallAnswered)
	if _, err := cc.PlaceCall("support", "c2", nil); err != nil {
		t.Fatal(err)
	}
	a1.ev.call(gateway.EvCallAnswered)
	// a third call waits: nobody is ready
	id3, _ := cc.PlaceCall("support", "c3", nil)
	if s := stats(t, cc, id3); !s.Waiting || !s.Held {
		t.Errorf("third call = %+v, want waiting and hearing hold", s)
	}
	a1.do(t, gateway.Command{Op: gateway.OpHangup})
	a1.ev.state(gateway.StateWrapUp, "")
	a1.do(t, gateway.Command{Op: gateway.OpWrapUpDone})
	e := a1.ev.call(gateway.EvCallIncoming)
	if e.Call.ID != id3 {
		t.Errorf("a1 got %s, want the waiting call %s", e.Call.ID, id3)
	}
	// and answers it (the call center's close must not cancel it under the
	// phone's answer)
	if e := a1.ev.call(gateway.EvCallAnswered); e.Call.ID != id3 {
		t.Errorf("a1 answered %s, want %s", e.Call.ID, id3)
	}
}

func TestPhoneRejectRequeuesToAnotherAgent(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	a1 := signIn(t, cc, "a1", rejectCalls)
	a2 := signIn(t, cc, "a2", answerCalls)
	a1.ready(t)
	a2.ready(t)
	id, _ := cc.PlaceCall("support", "carol", nil)
	a1.ev.call(gateway.EvCallIncoming)
	a1.ev.ended(ReasonRejected)
	a1.ev.state(gateway.StateNotReady, ReasonRejected)
	in := a2.ev.call(gateway.EvCallIncoming)
	if in.Call.ID != id {
		t.Errorf("a2 got call %s, want %s", in.Call.ID, id)
	}
	a2.ev.call(gateway.EvCallAnswered)
	if s := stats(t, cc, id); !slices.Equal(s.Agents, []string{"a2"}) {
		t.Errorf("agents on the call = %v", s.Agents)
	}
	if st := cc.Stats(); st.CallsRejected != 1 || st.CallsAnswered != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestRejectCommandCancelsTheInvite(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	a1 := signIn(t, cc, "a1", ignoreCalls)
	a2 := signIn(t, cc, "a2", answerCalls)
	a1.ready(t)
	a2.ready(t)
	id, _ := cc.PlaceCall("support", "dave", nil)
	a1.ev.call(gateway.EvCallRinging)
	pc := a1.phone.next()
	a1.do(t, gateway.Command{Op: gateway.OpAnswer}) // accepted: the phone answers, not the CTI
	a1.do(t, gateway.Command{Op: gateway.OpReject})
	a1.ev.ended(ReasonRejected)
	a1.ev.state(gateway.StateNotReady, ReasonRejected)
	waitEnded(t, pc) // CANCEL reached the phone
	if in := a2.ev.call(gateway.EvCallAnswered); in.Call.ID != id {
		t.Errorf("a2 answered %s, want %s", in.Call.ID, id)
	}
}

func TestRingTimeoutMissed(t *testing.T) {
	cc, _ := newTestCC(t, func(c *Config) { c.RingTimeout = 300 * time.Millisecond })
	a1 := signIn(t, cc, "a1", ignoreCalls)
	a2 := signIn(t, cc, "a2", answerCalls)
	a1.ready(t)
	a2.ready(t)
	cc.PlaceCall("support", "erin", nil)
	a1.ev.call(gateway.EvCallRinging)
	a1.ev.ended(ReasonMissed)
	a1.ev.state(gateway.StateNotReady, ReasonMissed)
	a2.ev.call(gateway.EvCallAnswered)
	if st := cc.Stats(); st.CallsMissed != 1 {
		t.Errorf("CallsMissed = %d", st.CallsMissed)
	}
}

func TestCustomerAbandonsWhileRinging(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	a1 := signIn(t, cc, "a1", ignoreCalls)
	a1.ready(t)
	id, _ := cc.PlaceCall("support", "fay", nil)
	a1.ev.call(gateway.EvCallRinging)
	pc := a1.phone.next()
	cc.CustomerHangup(id)
	a1.ev.ended(CauseAbandoned)
	a1.ev.state(gateway.StateReady, "") // back where it was
	waitEnded(t, pc)
	if st := cc.Stats(); st.CallsAbandoned != 1 {
		t.Errorf("CallsAbandoned = %d", st.CallsAbandoned)
	}
}

func TestStateErrorsChangeNothing(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	a1 := signIn(t, cc, "a1", answerCalls)
	a2 := signIn(t, cc, "a2", answerCalls)
	idle := []struct {
		cmd  gateway.Command
		code gateway.Code
	}{
		{gateway.Command{Op: gateway.OpHold}, gateway.CodeNoCall},
		{gateway.Command{Op: gateway.OpResume}, gateway.CodeNoCall},
		{gateway.Command{Op: gateway.OpHangup}, gateway.CodeNoCall},
		{gateway.Command{Op: gateway.OpAnswer}, gateway.CodeNoCall},
		{gateway.Command{Op: gateway.OpDTMF, Digits: "1"}, gateway.CodeNoCall},
		{gateway.Command{Op: gateway.OpTransfer, Target: gateway.Target{Kind: gateway.TargetAgent, ID: "a2"}}, gateway.CodeNoCall},
		{gateway.Command{Op: gateway.OpCompleteTransfer}, gateway.CodeNoCall},
		{gateway.Command{Op: gateway.OpWrapUpDone}, gateway.CodeNotAllowed},
		{gateway.Command{Op: gateway.OpNotReady, Reason: "nonsense"}, gateway.CodeBadRequest},
		{gateway.Command{Op: gateway.OpRest, Reason: "meeting"}, gateway.CodeBadRequest}, // not a rest reason
		{gateway.Command{Op: gateway.OpDial, Target: gateway.Target{Kind: gateway.TargetAgent, ID: "a2"}}, gateway.CodeNotAllowed},
		{gateway.Command{Op: gateway.OpDial, Target: gateway.Target{Kind: gateway.TargetNumber, ID: "12ab"}}, gateway.CodeBadRequest},
		{gateway.Command{Op: "fly"}, gateway.CodeUnsupported},
	}
	for _, tc := range idle {
		err := a1.sess.Do(t.Context(), tc.cmd)
		if gateway.CodeOf(err) != tc.code {
			t.Errorf("idle %s: error %v, want code %s", tc.cmd.Op, err, tc.code)
		}
	}
	a1.do(t, gateway.Command{Op: gateway.OpRest, Reason: "lunch"})
	a1.ev.state(gateway.StateRest, "lunch")
	a1.ready(t)
	if _, err := cc.PlaceCall("support", "gus", nil); err != nil {
		t.Fatal(err)
	}
	a1.ev.call(gateway.EvCallAnswered)
	busy := []struct {
		cmd  gateway.Command
		code gateway.Code
	}{
		{gateway.Command{Op: gateway.OpReady}, gateway.CodeNotAllowed},
		{gateway.Command{Op: gateway.OpNotReady}, gateway.CodeNotAllowed},
		{gateway.Command{Op: gateway.OpResume}, gateway.CodeNotAllowed},
		{gateway.Command{Op: gateway.OpUnmute}, gateway.CodeNotAllowed},
		{gateway.Command{Op: gateway.OpReject}, gateway.CodeNotAllowed},
		{gateway.Command{Op: gateway.OpCompleteTransfer}, gateway.CodeNotAllowed},
		{gateway.Command{Op: gateway.OpCancelConsult}, gateway.CodeNotAllowed},
		{gateway.Command{Op: gateway.OpConference}, gateway.CodeNotAllowed},
		{gateway.Command{Op: gateway.OpDTMF, Digits: "x"}, gateway.CodeBadRequest},
		{gateway.Command{Op: gateway.OpHold, CallID: "c-nope"}, gateway.CodeNoCall},
		{gateway.Command{Op: gateway.OpConsult, Target: gateway.Target{Kind: gateway.TargetAgent, ID: "a2"}}, gateway.CodeNotAllowed}, // a2 not ready
		{gateway.Command{Op: gateway.OpConsult, Target: gateway.Target{Kind: gateway.TargetQueue, ID: "sales"}}, gateway.CodeUnsupported},
		{gateway.Command{Op: gateway.OpTransfer, Target: gateway.Target{Kind: gateway.TargetQueue, ID: "nope"}}, gateway.CodeBadRequest},
		{gateway.Command{Op: gateway.OpTransfer, Target: gateway.Target{Kind: gateway.TargetAgent, ID: "a1"}}, gateway.CodeBadRequest},
		{gateway.Command{Op: gateway.OpDial, Target: gateway.Target{Kind: gateway.TargetNumber, ID: "123"}}, gateway.CodeNotAllowed},
	}
	before, _ := a1.sess.Snapshot(t.Context())
	for _, tc := range busy {
		err := a1.sess.Do(t.Context(), tc.cmd)
		if gateway.CodeOf(err) != tc.code {
			t.Errorf("busy %s: error %v, want code %s", tc.cmd.Op, err, tc.code)
		}
	}
	after, _ := a1.sess.Snapshot(t.Context())
	if after.State != gateway.StateBusy || len(after.Calls) != 1 || after.Calls[0].State != before.Calls[0].State || after.Calls[0].State != "talking" {
		t.Errorf("snapshot changed: before %+v, after %+v", before, after)
	}
	_ = a2
}

func TestSignInRules(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	g := cc.Gateway()
	if err := g.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(g.Reasons()) == 0 {
		t.Error("no reasons")
	}
	first := newRecorder(t, "first")
	s1, err := g.SignIn(t.Context(), "a1", gateway.SignInOptions{}, first.sink)
	if err != nil {
		t.Fatal(err)
	}
	first.state(gateway.StateNotReady, "")
	if _, err := g.SignIn(t.Context(), "a1", gateway.SignInOptions{}, newRecorder(t, "x").sink); gateway.CodeOf(err) != gateway.CodeSignedInElse {
		t.Errorf("second sign-in: %v", err)
	}
	if _, err := g.SignIn(t.Context(), "zed", gateway.SignInOptions{}, first.sink); gateway.CodeOf(err) != gateway.CodeUnknownAgent {
		t.Errorf("unknown agent: %v", err)
	}
	if _, err := g.SignIn(t.Context(), "a1", gateway.SignInOptions{Force: true, Queues: []string{"sales"}}, first.sink); gateway.CodeOf(err) != gateway.CodeBadRequest {
		t.Errorf("foreign queue: %v", err)
	}
	second := newRecorder(t, "second")
	s2, err := g.SignIn(t.Context(), "a1", gateway.SignInOptions{Force: true}, second.sink)
	if err != nil {
		t.Fatal(err)
	}
	first.wait("signed_in_elsewhere", func(e gateway.Event) bool { return e.Code == string(gateway.CodeSignedInElse) })
	second.state(gateway.StateNotReady, "")
	if err := s1.Do(t.Context(), gateway.Command{Op: gateway.OpReady}); gateway.CodeOf(err) != gateway.CodeSessionLost {
		t.Errorf("old session: %v", err)
	}
	s2.Close(t.Context())
	second.state(gateway.StateSignedOut, "")
}
