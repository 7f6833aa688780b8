package callcenter

import (
	"slices"
	"testing"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

func TestCallAnsweredHeldResumedHungUp(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	a1 := signIn(t, cc, "a1", answerCalls)
	a1.ready(t)

	id, err := cc.PlaceCall("support", "alice", map[string]string{"order": "42"})
	if err != nil {
		t.Fatal(err)
	}
	a1.ev.state(gateway.StateBusy, "")
	in := a1.ev.call(gateway.EvCallIncoming)
	if in.Call.ID != id || in.Call.Caller != "alice" || in.Call.Queue != "support" || in.Call.Data["order"] != "42" || in.Call.Direction != "inbound" {
		t.Errorf("call.incoming = %+v", in.Call)
	}
	a1.ev.call(gateway.EvCallRinging)
	pc := a1.phone.next()
	if got := pc.Header("X-Agentbar-Call-ID"); got != id {
		t.Errorf("INVITE X-Agentbar-Call-ID = %q, want %q", got, id)
	}
	if got := pc.Header("X-Agentbar-Queue"); got != "support" {
		t.Errorf("INVITE X-Agentbar-Queue = %q", got)
	}
	if ans := a1.ev.call(gateway.EvCallAnswered); ans.Call.State != "talking" {
		t.Errorf("answered call state = %q", ans.Call.State)
	}
	if s := stats(t, cc, id); !slices.Equal(s.Agents, []string{"a1"}) || s.Held {
		t.Errorf("stats after answer = %+v", s)
	}

	a1.do(t, gateway.Command{Op: gateway.OpHold})
	if e := a1.ev.call(gateway.EvCallHeld); e.Call.State != "held" {
		t.Errorf("held call state = %q", e.Call.State)
	}
	if d := a1.phone.lastMedia().lastDirection(); d != dirSendOnly {
		t.Errorf("phone's hold offer direction = %q, want sendonly", d)
	}
	if s := stats(t, cc, id); !s.Held {
		t.Error("customer does not hear hold")
	}
	a1.do(t, gateway.Command{Op: gateway.OpResume})
	a1.ev.call(gateway.EvCallResumed)
	if d := a1.phone.lastMedia().lastDirection(); d != dirSendRecv {
		t.Errorf("phone's resume offer direction = %q, want sendrecv", d)
	}
	if s := stats(t, cc, id); s.Held {
		t.Error("customer still on hold")
	}

	a1.do(t, gateway.Command{Op: gateway.OpMute})
	a1.ev.call(gateway.EvCallMuted)
	a1.do(t, gateway.Command{Op: gateway.OpUnmute})
	a1.ev.call(gateway.EvCallUnmuted)
	a1.do(t, gateway.Command{Op: gateway.OpDTMF, Digits: "12#"})
	if e := a1.ev.call(gateway.EvDTMF); e.Digits != "12#" {
		t.Errorf("dtmf event digits = %q", e.Digits)
	}
	if err := pc.SendDTMF(t.Context(), '5', 100*time.Millisecond); err != nil { // SIP INFO from the phone
		t.Fatal(err)
	}
	if e := a1.ev.call(gateway.EvDTMF); e.Digits != "5" {
		t.Errorf("dtmf from the phone = %q", e.Digits)
	}
	if s := stats(t, cc, id); s.DTMF != "12#5" {
		t.Errorf("digits played to the customer = %q", s.DTMF)
	}

	a1.do(t, gateway.Command{Op: gateway.OpHangup})
	a1.ev.ended(CauseAgentHangup)
	if e := a1.ev.state(gateway.StateWrapUp, ""); e.Deadline.IsZero() {
		t.Error("wrap-up without deadline")
	}
	waitEnded(t, pc)
	if s := stats(t, cc, id); !s.Ended || s.Cause != CauseRemoteHangup && s.Cause != CauseAgentHangup {
		t.Errorf("stats after hangup = %+v", s)
	}
	a1.do(t, gateway.Command{Op: gateway.OpWrapUpDone})
	a1.ev.state(gateway.StateReady, "")
	if st := cc.Stats(); st.CallsReceived != 1 || st.CallsAnswered != 1 || st.CallsEnded != 1 || st.Bindings != 1 {
		t.Errorf("Stats = %+v", st)
	}
}
