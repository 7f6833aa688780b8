package server

import (
	"context"
	"testing"
	"time"

	"github.com/agentbar/agentbar/internal/interop"
	"github.com/agentbar/agentbar/proxy/gateway"
	"github.com/agentbar/agentbar/server/callcenter"
	"github.com/agentbar/agentbar/sip"
)

// TestE2ETrunkSIPp has SIPp dial the support queue on the plain SIP trunk:
// the call reaches the ready agent's soft phone through the SIP edge, the
// phone answers (WebRTC toward the call center, RTP/AVP toward SIPp),
// SIPp's BYE ends the call and SIPp exits 0.
func TestE2ETrunkSIPp(t *testing.T) {
	s := e2eStartServer(t, t.TempDir(), nil)
	a := s.e2eBar(t, "1001")
	a.ready()

	t0 := time.Now()
	sipp := interop.StartSIPp(t, "uac_call.xml", s.cc().Addrs().Trunk, "-s", "support")
	in := a.ch.expect(gateway.EvCallIncoming, nil)
	callID := in.Ev.Call.ID
	if c := in.Ev.Call; c.Caller != "sipp" || c.Queue != "support" || c.Direction != "inbound" || c.Data["channel"] != "sip" {
		t.Fatalf("call.incoming %+v", c)
	}
	a.ch.expectCall(gateway.EvCallRinging, callID)
	sc := a.phone.ringing()
	if sc.Header("X-Agentbar-Call-ID") != callID || sc.Header("X-Agentbar-Caller") != "sipp" {
		t.Fatalf("INVITE to the phone: call %q caller %q", sc.Header("X-Agentbar-Call-ID"), sc.Header("X-Agentbar-Caller"))
	}
	a.phone.answer(sc)
	a.ch.expectCall(gateway.EvCallAnswered, callID)
	tAnswer := time.Since(t0)
	if e := a.ch.expectCall(gateway.EvCallEnded, callID); e.Ev.Cause != callcenter.CauseCustomerHangup {
		t.Fatalf("call.ended cause %q, want %s (SIPp's BYE)", e.Ev.Cause, callcenter.CauseCustomerHangup)
	}
	tEnd := time.Since(t0)
	e2eWrapUp(t, a.ch.expectState(gateway.StateWrapUp), s.cfg.CallCenter.WrapUp)
	e2eEnded(t, sc, sip.CauseRemoteHangup)

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if err := sipp.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	st := e2eCustomer(t, s, callID)
	if !st.Ended || st.Cause != callcenter.CauseCustomerHangup || st.Queue != "support" {
		t.Fatalf("call stats %+v", st)
	}
	if cs := s.cc().Stats(); cs.CallsReceived != 1 || cs.CallsAnswered != 1 || cs.CallsEnded != 1 {
		t.Fatalf("call center stats %+v", cs)
	}
	// SIPp sends no RTP, but the trunk leg sent it the agent's voice.
	if st.Customer.PacketsOut == 0 {
		t.Fatalf("no RTP toward SIPp: %+v", st.Customer)
	}
	t.Logf("SIPp INVITE answered by the phone %v after start, BYE ended it at %v; SIPp exited 0 after %v; %d RTP packets sent to SIPp (level %.3f)",
		tAnswer.Round(time.Millisecond), tEnd.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond), st.Customer.PacketsOut, st.Customer.LevelOut)
}
