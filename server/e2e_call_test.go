package server

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/agentbar/agentbar/internal/agentphone"
	"github.com/agentbar/agentbar/proxy/control/wire"
	"github.com/agentbar/agentbar/proxy/gateway"
	"github.com/agentbar/agentbar/server/callcenter"
	"github.com/agentbar/agentbar/server/media"
	"github.com/agentbar/agentbar/sip"
)

// e2eHears reports whether a phone hears speech: more than a level window
// of packets in, and the level of a voice.
func e2eHears(ph *agentphone.Phone) func() bool {
	return func() bool { st := ph.Stats(); return st.PacketsIn > 25 && st.LevelIn > e2eHeard }
}

// e2eCustomerHears reports whether the call's customer hears speech.
func e2eCustomerHears(s *e2eServer, callID string) func() bool {
	return func() bool {
		st, ok := s.cc().CallStats(callID)
		return ok && st.Customer.PacketsIn > 25 && st.Customer.LevelIn > e2eHeardLinear
	}
}

// e2eWrapUp checks a wrap-up state event: its deadline is the configured
// wrap-up after the event.
func e2eWrapUp(t *testing.T, e e2eEvent, wrap time.Duration) {
	t.Helper()
	if d := e.Ev.Deadline.Sub(e.Ev.Time); e.Ev.Deadline.IsZero() || d < wrap-100*time.Millisecond || d > wrap+100*time.Millisecond {
		t.Fatalf("wrap_up at %v with deadline %v (%v later), want %v", e.Ev.Time, e.Ev.Deadline, d, wrap)
	}
}

// e2eEnded waits for a phone's SIP call to end and checks why.
func e2eEnded(t *testing.T, c *sip.Call, want sip.EndCause) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(e2eWait):
		t.Fatalf("SIP call %s still up after %v", c.ID(), e2eWait)
	}
	if cause, code, err := c.End(); cause != want {
		t.Fatalf("SIP call ended with %s (%d, %v), want %s", cause, code, err, want)
	}
}

// TestE2EFullCall drives one customer call through its whole life the way
// three browsers would: control channel and soft phone per agent, a
// simulated customer from POST /v1/demo/calls, audio both ways, hold,
// mute, in-band DTMF, a blind transfer, a consult that becomes a
// three-way conference, hang-ups, wrap-up and sign-out.
func TestE2EFullCall(t *testing.T) {
	s := e2eStartServer(t, t.TempDir(), nil)
	wrap := s.cfg.CallCenter.WrapUp
	a1 := s.e2eBar(t, "1001")
	a2 := s.e2eBar(t, "1002")
	a3 := s.e2eBar(t, "1003")
	if st := s.cc().Stats(); st.Bindings != 3 || st.Registrations < 3 {
		t.Fatalf("registrar after three phones registered through the edge: %+v", st)
	}
	a1.ready()

	// The call reaches the only ready agent: screen pop, ringing, the phone rings.
	t0 := time.Now()
	callID := s.demoCall(t, "support", "+15550100", map[string]string{"order": "A-17"})
	in := a1.ch.expectCall(gateway.EvCallIncoming, callID)
	if c := in.Ev.Call; c.Caller != "+15550100" || c.Queue != "support" || c.Direction != "inbound" || c.Data["order"] != "A-17" {
		t.Fatalf("call.incoming %+v", c)
	}
	a1.ch.expectCall(gateway.EvCallRinging, callID)
	sc1 := a1.phone.ringing()
	if sc1.Header("X-Agentbar-Call-ID") != callID || sc1.Header("X-Agentbar-Queue") != "support" {
		t.Fatalf("INVITE to the phone: call %q queue %q", sc1.Header("X-Agentbar-Call-ID"), sc1.Header("X-Agentbar-Queue"))
	}
	tRing := time.Since(t0)
	ph1 := a1.phone.answer(sc1)
	a1.ch.expectCall(gateway.EvCallAnswered, callID)
	tAnswer := time.Since(t0)

	// Audio both ways, over DTLS-SRTP to the phone and into the customer.
	dPhone := e2eEventually(t, 10*time.Second, "1001's phone to hear the customer", e2eHears(ph1))
	dCust := e2eEventually(t, 10*time.Second, "the customer to hear 1001", e2eCustomerHears(s, callID))
	st1, cs := ph1.Stats(), e2eCustomer(t, s, callID)
	t.Logf("ring %v, answered %v after the demo call; 1001 heard the customer after %v more (%d packets in, %.1f dBFS), the customer heard 1001 after %v (%d frames in, level %.3f)",
		tRing.Round(time.Millisecond), tAnswer.Round(time.Millisecond), dPhone.Round(time.Millisecond), st1.PacketsIn, st1.LevelIn, dCust.Round(time.Millisecond), cs.Customer.PacketsIn, cs.Customer.LevelIn)
	if !slices.Equal(cs.Agents, []string{"1001"}) || cs.Held || cs.Waiting {
		t.Fatalf("call stats %+v", cs)
	}

	// Hold: the phone is re-offered sendonly and the customer is held.
	a1.ch.op(string(gateway.OpHold))
	a1.ch.expectCall(gateway.EvCallHeld, callID)
	if d := ph1.Direction(); d != media.SendOnly {
		t.Fatalf("phone direction on hold %q, want sendonly", d)
	}
	if !e2eCustomer(t, s, callID).Held {
		t.Fatal("customer not held")
	}
	a1.ch.op(string(gateway.OpResume))
	a1.ch.expectCall(gateway.EvCallResumed, callID)
	if d := ph1.Direction(); d != media.SendRecv {
		t.Fatalf("phone direction after resume %q, want sendrecv", d)
	}
	if e2eCustomer(t, s, callID).Held {
		t.Fatal("customer still held after resume")
	}

	// Mute is local (the phone sends silence) and reported through the CTI.
	ph1.Mute(true)
	a1.ch.op(string(gateway.OpMute))
	a1.ch.expectCall(gateway.EvCallMuted, callID)
	dMute := e2eEventually(t, 5*time.Second, "the customer's level to drop to silence", func() bool {
		return e2eCustomer(t, s, callID).Customer.LevelIn == 0
	})
	ph1.Mute(false)
	a1.ch.op(string(gateway.OpUnmute))
	a1.ch.expectCall(gateway.EvCallUnmuted, callID)
	dUnmute := e2eEventually(t, 5*time.Second, "the customer to hear 1001 again", e2eCustomerHears(s, callID))
	t.Logf("muted: customer silent after %v; unmuted: heard again after %v", dMute.Round(time.Millisecond), dUnmute.Round(time.Millisecond))

	// DTMF from the phone, in band (RFC 4733), reaches the customer.
	if err := ph1.SendDTMF("42#"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"4", "2", "#"} {
		a1.ch.expect(gateway.EvDTMF, func(ev gateway.Event) bool { return ev.Digits == d && ev.Call.ID == callID })
	}
	if got := e2eCustomer(t, s, callID).DTMF; got != "42#" {
		t.Fatalf("customer's digits %q, want 42#", got)
	}

	// Blind transfer to 1002: 1001 leaves into wrap-up, 1002 takes the call.
	a2.ready()
	tTransfer := time.Now()
	a1.ch.ok(wire.ClientMessage{Op: string(gateway.OpTransfer), Target: &gateway.Target{Kind: gateway.TargetAgent, ID: "1002"}})
	a1.ch.expectCall(gateway.EvCallTransferred, callID)
	if e := a1.ch.expectCall(gateway.EvCallEnded, callID); e.Ev.Cause != callcenter.CauseTransferred {
		t.Fatalf("1001's call.ended cause %q", e.Ev.Cause)
	}
	wu1 := a1.ch.expectState(gateway.StateWrapUp)
	e2eWrapUp(t, wu1, wrap)
	e2eEnded(t, sc1, sip.CauseRemoteHangup)
	in2 := a2.ch.expectCall(gateway.EvCallIncoming, callID)
	if in2.Ev.Call.Data["order"] != "A-17" || in2.Ev.Call.Caller != "+15550100" {
		t.Fatalf("1002's screen pop %+v", in2.Ev.Call)
	}
	a2.ch.expectCall(gateway.EvCallRinging, callID)
	ph2 := a2.phone.answer(a2.phone.ringing())
	a2.ch.expectCall(gateway.EvCallAnswered, callID)
	dTransfer := time.Since(tTransfer)
	e2eEventually(t, 10*time.Second, "1002's phone to hear the customer", e2eHears(ph2))
	e2eEventually(t, 10*time.Second, "the customer to hear 1002", e2eCustomerHears(s, callID))
	if cs := e2eCustomer(t, s, callID); !slices.Equal(cs.Agents, []string{"1002"}) {
		t.Fatalf("agents after the transfer %v", cs.Agents)
	}
	st2 := ph2.Stats()
	t.Logf("blind transfer answered by 1002 after %v; 1002 hears %d packets, %.1f dBFS", dTransfer.Round(time.Millisecond), st2.PacketsIn, st2.LevelIn)

	// 1001's wrap-up ends by itself.
	rd1 := a1.ch.expectState(gateway.StateReady)
	t.Logf("1001 wrap-up %v (deadline %v after)", rd1.Ev.Time.Sub(wu1.Ev.Time).Round(time.Millisecond), wu1.Ev.Deadline.Sub(wu1.Ev.Time))
	if d := rd1.Ev.Time.Sub(wu1.Ev.Time); d < wrap-50*time.Millisecond || d > wrap+time.Second {
		t.Fatalf("1001 ready %v after wrap-up began, want %v", d, wrap)
	}

	// Consult 1003: the customer is held while the agents talk.
	a3.ready()
	a2.ch.ok(wire.ClientMessage{Op: string(gateway.OpConsult), Target: &gateway.Target{Kind: gateway.TargetAgent, ID: "1003"}})
	a3.ch.expectCall(gateway.EvCallIncoming, callID)
	a3.ch.expectCall(gateway.EvCallRinging, callID)
	sc3 := a3.phone.ringing()
	ph3 := a3.phone.answer(sc3)
	a3.ch.expectCall(gateway.EvCallAnswered, callID)
	a2.ch.expectCall(gateway.EvConsultStarted, callID)
	if cs := e2eCustomer(t, s, callID); !cs.Held {
		t.Fatalf("customer not held during the consult: %+v", cs)
	}
	e2eEventually(t, 10*time.Second, "1003 to hear 1002 during the consult", e2eHears(ph3))

	// Conference: all three hear each other.
	a2.ch.op(string(gateway.OpConference))
	a2.ch.expectCall(gateway.EvConferenced, callID)
	a3.ch.expectCall(gateway.EvConferenced, callID)
	if cs := e2eCustomer(t, s, callID); cs.Held || !slices.Equal(slices.Sorted(slices.Values(cs.Agents)), []string{"1002", "1003"}) {
		t.Fatalf("conference stats %+v", cs)
	}
	e2eEventually(t, 10*time.Second, "the customer to hear the conference", e2eCustomerHears(s, callID))
	st3 := ph3.Stats()
	t.Logf("conference: 1003 hears %d packets at %.1f dBFS; customer %d frames at %.3f",
		st3.PacketsIn, st3.LevelIn, e2eCustomer(t, s, callID).Customer.PacketsIn, e2eCustomer(t, s, callID).Customer.LevelIn)

	// 1002 hangs up through the CTI: the conference falls back to 1003 and
	// the customer; then 1003 hangs up on the phone and the call ends.
	a2.ch.op(string(gateway.OpHangup))
	if e := a2.ch.expectCall(gateway.EvCallEnded, callID); e.Ev.Cause != callcenter.CauseAgentHangup {
		t.Fatalf("1002's call.ended cause %q", e.Ev.Cause)
	}
	wu2 := a2.ch.expectState(gateway.StateWrapUp)
	e2eWrapUp(t, wu2, wrap)
	a3.ch.expectCall(gateway.EvConsultEnded, callID)
	if cs := e2eCustomer(t, s, callID); !slices.Equal(cs.Agents, []string{"1003"}) || cs.Ended {
		t.Fatalf("after 1002 left: %+v", cs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	if err := sc3.Hangup(ctx); err != nil {
		t.Fatalf("1003's phone hangs up: %v", err)
	}
	if e := a3.ch.expectCall(gateway.EvCallEnded, callID); e.Ev.Cause != callcenter.CauseAgentHangup {
		t.Fatalf("1003's call.ended cause %q", e.Ev.Cause)
	}
	wu3 := a3.ch.expectState(gateway.StateWrapUp)
	e2eWrapUp(t, wu3, wrap)
	if cs := e2eCustomer(t, s, callID); !cs.Ended || cs.DTMF != "42#" || cs.Customer.PacketsIn == 0 {
		t.Fatalf("final call stats %+v", cs)
	}
	for _, w := range []struct {
		a  *e2eAgent
		wu e2eEvent
	}{{a2, wu2}, {a3, wu3}} {
		rd := w.a.ch.expectState(gateway.StateReady)
		d := rd.Ev.Time.Sub(w.wu.Ev.Time)
		if d < wrap-50*time.Millisecond || d > wrap+time.Second {
			t.Fatalf("%s ready %v after wrap-up began, want %v", w.a.id, d, wrap)
		}
		t.Logf("%s ready by itself %v after its wrap-up began", w.a.id, d.Round(time.Millisecond))
	}

	// Sign out.
	for _, a := range []*e2eAgent{a1, a2, a3} {
		a.ch.op(wire.OpSignOut)
		a.ch.expectState(gateway.StateSignedOut)
	}
	if st := s.cc().Stats(); st.CallsAnswered != 1 || st.CallsTransfered != 1 || st.CallsEnded != 1 {
		t.Fatalf("call center stats %+v", st)
	}
	t.Logf("whole call %v", time.Since(t0).Round(time.Millisecond))
}
