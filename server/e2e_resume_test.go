package server

import (
	"bytes"
	"testing"
	"time"

	"github.com/agentbar/agentbar/proxy/control/wire"
	"github.com/agentbar/agentbar/proxy/gateway"
	"github.com/agentbar/agentbar/server/callcenter"
	"github.com/agentbar/agentbar/server/config"
	"github.com/agentbar/agentbar/sip"
)

// TestE2EResume drops the bar's control channel in the middle of a call,
// lets the call go on (hold, resume, mute and unmute from a second bar of
// the same agent, then the customer hangs up), and reconnects with the
// last sequence number the bar saw: every later event arrives once and in
// order, identical to what the other bar saw live, and then only new ones.
func TestE2EResume(t *testing.T) {
	s := e2eStartServer(t, t.TempDir(), func(c *config.Config) {
		c.CallCenter.WrapUp = time.Minute // no timer event during the test
	})
	a := s.e2eBar(t, "1001")
	other := s.e2eDial(t, a.token, nil) // a second tab of the same agent
	a.ready()
	callID := s.demoCall(t, "support", "+15550123", map[string]string{"ticket": "T-9"})
	a.ch.expectCall(gateway.EvCallIncoming, callID)
	sc := a.phone.ringing()
	ph := a.phone.answer(sc)
	a.ch.expectCall(gateway.EvCallAnswered, callID)
	other.expectCall(gateway.EvCallAnswered, callID)

	// The tab goes away without a closing handshake.
	lastSeq := a.ch.lastSeq()
	a.ch.close()

	// Things happen meanwhile.
	for _, step := range []struct {
		op string
		ev gateway.EventType
	}{
		{"hold", gateway.EvCallHeld}, {"resume", gateway.EvCallResumed},
		{"mute", gateway.EvCallMuted}, {"unmute", gateway.EvCallUnmuted},
	} {
		other.op(step.op)
		other.expectCall(step.ev, callID)
	}
	if err := s.cc().CustomerHangup(callID); err != nil {
		t.Fatal(err)
	}
	if e := other.expectCall(gateway.EvCallEnded, callID); e.Ev.Cause != callcenter.CauseCustomerHangup {
		t.Fatalf("call.ended cause %q", e.Ev.Cause)
	}
	other.expectState(gateway.StateWrapUp)
	e2eEnded(t, sc, sip.CauseRemoteHangup)
	if ph.Direction() != "sendrecv" {
		t.Fatalf("phone direction %q after resume", ph.Direction())
	}

	// The bar comes back with the last number it saw.
	back := s.e2eDial(t, a.token, &lastSeq)
	head := back.hello.Seq
	if head <= lastSeq || back.hello.Snapshot.State != gateway.StateWrapUp {
		t.Fatalf("hello after resume: seq %d (bar saw %d), state %s", head, lastSeq, back.hello.Snapshot.State)
	}
	missed := int(head - lastSeq)
	back.waitUntil(e2eWait, func() string { return "the missed events" }, func() bool { return len(back.events) >= missed })

	// What the other bar saw live, by sequence number.
	live := map[uint64][]byte{}
	for _, e := range other.all() {
		live[e.Seq] = e.Raw
	}
	got := back.all()
	var types []string
	for i, e := range got[:missed] {
		if want := lastSeq + uint64(i) + 1; e.Seq != want {
			t.Fatalf("replayed event %d has seq %d, want %d (gap, repeat or disorder)", i, e.Seq, want)
		}
		if !bytes.Equal(e.Raw, live[e.Seq]) {
			t.Fatalf("replayed #%d = %s, live it was %s", e.Seq, e.Raw, live[e.Seq])
		}
		types = append(types, e2eDescribe(e.Ev))
	}
	for _, want := range []gateway.EventType{gateway.EvCallHeld, gateway.EvCallResumed, gateway.EvCallMuted, gateway.EvCallUnmuted, gateway.EvCallEnded} {
		back.expectCall(want, callID)
	}
	back.expectState(gateway.StateWrapUp)

	// Nothing extra: the next event is the one the next command makes.
	back.op(string(gateway.OpWrapUpDone))
	next := back.expectState(gateway.StateReady)
	if next.Seq != head+1 {
		t.Fatalf("first new event has seq %d, want %d", next.Seq, head+1)
	}
	if n := len(back.all()); n != missed+1 {
		t.Fatalf("resumed bar got %d events, want %d missed + 1 new:%s", n, missed, back.summary())
	}
	t.Logf("dropped at seq %d; %d events while away, replayed once and in order: %v; then #%d live", lastSeq, missed, types, next.Seq)

	// Both bars see the same log.
	other.expectState(gateway.StateReady)
	if !bytes.Equal(other.all()[len(other.all())-1].Raw, next.Raw) {
		t.Fatal("the two bars disagree on the newest event")
	}
	back.op(wire.OpSignOut)
	back.expectState(gateway.StateSignedOut)
}
