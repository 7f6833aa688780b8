package callcenter

import (
	"slices"
	"testing"

	"github.com/agentbar/agentbar/proxy/gateway"
	"github.com/agentbar/agentbar/sip"
)

// onCallWith starts a simulated call answered by a1, with a2 signed in
// and ready, and returns the call's ID and a1's phone call.
func onCallWith(t *testing.T, cc *CallCenter, a1, a2 *agentUnderTest) (string, *sip.Call) {
	t.Helper()
	a1.ready(t)
	id, err := cc.PlaceCall("support", "hank", map[string]string{"ticket": "7"})
	if err != nil {
		t.Fatal(err)
	}
	a1.ev.call(gateway.EvCallAnswered)
	pc := a1.phone.next()
	a2.ready(t)
	return id, pc
}

func toAgent(id string) gateway.Target { return gateway.Target{Kind: gateway.TargetAgent, ID: id} }

func TestBlindTransferToAgent(t *testing.T) {
	cc, fm := newTestCC(t, nil)
	a1 := signIn(t, cc, "a1", answerCalls)
	a2 := signIn(t, cc, "a2", answerCalls)
	id, pc1 := onCallWith(t, cc, a1, a2)

	a1.do(t, gateway.Command{Op: gateway.OpTransfer, Target: toAgent("a2")})
	a1.ev.call(gateway.EvCallTransferred)
	a1.ev.ended(CauseTransferred)
	a1.ev.state(gateway.StateWrapUp, "")
	waitEnded(t, pc1)
	in := a2.ev.call(gateway.EvCallIncoming)
	if in.Call.ID != id || in.Call.Caller != "hank" || in.Call.Data["ticket"] != "7" {
		t.Errorf("a2's call.incoming = %+v", in.Call)
	}
	a2.ev.call(gateway.EvCallAnswered)
	if s := stats(t, cc, id); !slices.Equal(s.Agents, []string{"a2"}) || s.Held {
		t.Errorf("after transfer: %+v", s)
	}
	if n, held := fm.Bridges()[0].Members(); n != 2 || held != 0 {
		t.Errorf("bridge has %d ports, %d held; want customer and a2", n, held)
	}
	if st := cc.Stats(); st.CallsTransfered != 1 {
		t.Errorf("CallsTransfered = %d", st.CallsTransfered)
	}
}

func TestBlindTransferToQueue(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	a1 := signIn(t, cc, "a1", answerCalls)
	a3 := signIn(t, cc, "a3", answerCalls)
	id, _ := onCallWith(t, cc, a1, a3)
	a1.do(t, gateway.Command{Op: gateway.OpTransfer, Target: gateway.Target{Kind: gateway.TargetQueue, ID: "sales"}})
	a1.ev.ended(CauseTransferred)
	in := a3.ev.call(gateway.EvCallIncoming)
	if in.Call.ID != id || in.Call.Queue != "sales" {
		t.Errorf("a3's call.incoming = %+v", in.Call)
	}
	a3.ev.call(gateway.EvCallAnswered)
}

func TestBlindTransferToNumber(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	a1 := signIn(t, cc, "a1", answerCalls)
	a2 := signIn(t, cc, "a2", answerCalls)
	id, _ := onCallWith(t, cc, a1, a2)
	a1.do(t, gateway.Command{Op: gateway.OpTransfer, Target: gateway.Target{Kind: gateway.TargetNumber, ID: "+15550100"}})
	a1.ev.ended(CauseTransferred)
	if s := stats(t, cc, id); s.Ended || len(s.Agents) != 0 || s.Held {
		t.Errorf("customer and number: %+v", s)
	}
	cc.CustomerHangup(id)
	if s := stats(t, cc, id); !s.Ended {
		t.Errorf("after the customer hung up: %+v", s)
	}
}

func TestConsultThenComplete(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	a1 := signIn(t, cc, "a1", answerCalls)
	a2 := signIn(t, cc, "a2", answerCalls)
	id, pc1 := onCallWith(t, cc, a1, a2)

	a1.do(t, gateway.Command{Op: gateway.OpConsult, Target: toAgent("a2")})
	if s := stats(t, cc, id); !s.Held {
		t.Error("customer not held during the consult")
	}
	a2.ev.call(gateway.EvCallIncoming)
	a2.ev.call(gateway.EvCallAnswered)
	if e := a1.ev.call(gateway.EvConsultStarted); e.Call.State != "consulting" {
		t.Errorf("a1's call state = %q", e.Call.State)
	}
	if s := stats(t, cc, id); !s.Held || !slices.Equal(s.Agents, []string{"a1", "a2"}) {
		t.Errorf("during consult: %+v", s)
	}
	if err := a1.sess.Do(t.Context(), gateway.Command{Op: gateway.OpHold}); gateway.CodeOf(err) != gateway.CodeNotAllowed {
		t.Errorf("hold during consult: %v", err)
	}

	a1.do(t, gateway.Command{Op: gateway.OpCompleteTransfer})
	a1.ev.call(gateway.EvCallTransferred)
	a1.ev.ended(CauseTransferred)
	a1.ev.state(gateway.StateWrapUp, "")
	waitEnded(t, pc1)
	if e := a2.ev.call(gateway.EvCallTransferred); e.Call.State != "talking" {
		t.Errorf("a2's call state = %q", e.Call.State)
	}
	if s := stats(t, cc, id); s.Held || !slices.Equal(s.Agents, []string{"a2"}) {
		t.Errorf("after complete: %+v", s)
	}
	cc.CustomerHangup(id)
	a2.ev.ended(CauseCustomerHangup)
}

func TestConsultThenConference(t *testing.T) {
	cc, fm := newTestCC(t, nil)
	a1 := signIn(t, cc, "a1", answerCalls)
	a2 := signIn(t, cc, "a2", answerCalls)
	id, _ := onCallWith(t, cc, a1, a2)

	a1.do(t, gateway.Command{Op: gateway.OpConsult, Target: toAgent("a2")})
	a1.ev.call(gateway.EvConsultStarted)
	a1.do(t, gateway.Command{Op: gateway.OpConference})
	for _, a := range []*agentUnderTest{a1, a2} {
		if e := a.ev.call(gateway.EvConferenced); e.Call.State != "conference" {
			t.Errorf("%s's call state = %q", a.id, e.Call.State)
		}
	}
	if n, held := fm.Bridges()[0].Members(); n != 3 || held != 0 {
		t.Errorf("bridge has %d ports, %d held; want all three talking", n, held)
	}
	if s := stats(t, cc, id); s.Held || len(s.Agents) != 2 {
		t.Errorf("in conference: %+v", s)
	}

	a1.do(t, gateway.Command{Op: gateway.OpHangup})
	a1.ev.ended(CauseAgentHangup)
	a2.ev.call(gateway.EvConsultEnded)
	if s := stats(t, cc, id); s.Ended || !slices.Equal(s.Agents, []string{"a2"}) {
		t.Errorf("after a1 left: %+v", s)
	}
	cc.CustomerHangup(id)
	a2.ev.ended(CauseCustomerHangup)
}

func TestConsultCancelled(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	a1 := signIn(t, cc, "a1", answerCalls)
	a2 := signIn(t, cc, "a2", answerCalls)
	id, _ := onCallWith(t, cc, a1, a2)

	a1.do(t, gateway.Command{Op: gateway.OpConsult, Target: toAgent("a2")})
	a1.ev.call(gateway.EvConsultStarted)
	pc2 := a2.phone.next()
	a1.do(t, gateway.Command{Op: gateway.OpCancelConsult})
	a2.ev.ended(CauseConsultEnded)
	a2.ev.state(gateway.StateWrapUp, "")
	waitEnded(t, pc2)
	if e := a1.ev.call(gateway.EvConsultEnded); e.Call.State != "talking" {
		t.Errorf("a1's call state = %q", e.Call.State)
	}
	if s := stats(t, cc, id); s.Held || !slices.Equal(s.Agents, []string{"a1"}) {
		t.Errorf("after cancel: %+v", s)
	}
}

func TestConsultRejected(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	a1 := signIn(t, cc, "a1", answerCalls)
	a2 := signIn(t, cc, "a2", rejectCalls)
	id, _ := onCallWith(t, cc, a1, a2)
	a1.do(t, gateway.Command{Op: gateway.OpConsult, Target: toAgent("a2")})
	if e := a1.ev.call(gateway.EvConsultEnded); e.Cause != ReasonRejected {
		t.Errorf("consult ended with %q", e.Cause)
	}
	a2.ev.state(gateway.StateNotReady, ReasonRejected)
	if s := stats(t, cc, id); s.Held || s.Ended {
		t.Errorf("after a refused consult: %+v", s)
	}
}

func TestDialNumber(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	a1 := signIn(t, cc, "a1", answerCalls)
	a1.do(t, gateway.Command{Op: gateway.OpDial, Target: gateway.Target{Kind: gateway.TargetNumber, ID: "5550123"}})
	a1.ev.state(gateway.StateBusy, "")
	r := a1.ev.call(gateway.EvCallRinging)
	if r.Call.Direction != "outbound" || r.Call.Callee != "5550123" {
		t.Errorf("ringing = %+v", r.Call)
	}
	pc := a1.phone.next()
	if pc.Header("X-Agentbar-Direction") != "outbound" {
		t.Error("the phone was not told the call is outbound")
	}
	if e := a1.ev.call(gateway.EvCallAnswered); e.Call.State != "talking" {
		t.Errorf("dialled call state = %q", e.Call.State)
	}
	a1.do(t, gateway.Command{Op: gateway.OpHangup})
	a1.ev.ended(CauseAgentHangup)
	waitEnded(t, pc)
}

func TestDialAgentAndRemoteHangup(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	a1 := signIn(t, cc, "a1", answerCalls)
	a2 := signIn(t, cc, "a2", answerCalls)
	a2.ready(t)
	a1.do(t, gateway.Command{Op: gateway.OpDial, Target: toAgent("a2")})
	in := a2.ev.call(gateway.EvCallIncoming)
	if in.Call.Caller != "a1" {
		t.Errorf("a2 sees caller %q", in.Call.Caller)
	}
	a2.ev.call(gateway.EvCallAnswered)
	a1.ev.call(gateway.EvCallAnswered)
	pc2 := a2.phone.next()
	if err := pc2.Hangup(t.Context()); err != nil { // a2 hangs up on the phone
		t.Fatal(err)
	}
	a2.ev.ended(CauseAgentHangup)
	a1.ev.ended(CauseRemoteHangup)
	a1.ev.state(gateway.StateWrapUp, "")
}

func TestDialQueue(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	a1 := signIn(t, cc, "a1", answerCalls)
	a3 := signIn(t, cc, "a3", answerCalls)
	a3.ready(t)
	a1.do(t, gateway.Command{Op: gateway.OpDial, Target: gateway.Target{Kind: gateway.TargetQueue, ID: "sales"}})
	in := a3.ev.call(gateway.EvCallIncoming)
	if in.Call.Caller != "a1" || in.Call.Queue != "sales" {
		t.Errorf("a3's call.incoming = %+v", in.Call)
	}
	a1.ev.call(gateway.EvCallAnswered)
	a1.do(t, gateway.Command{Op: gateway.OpHangup})
	a3.ev.ended(CauseRemoteHangup)
}
