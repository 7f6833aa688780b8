package server

import (
	"bytes"
	"testing"

	"github.com/agentbar/agentbar/proxy/control/wire"
	"github.com/agentbar/agentbar/proxy/gateway"
)

// TestE2ERestartKeepsLog produces events, closes the server and starts a
// new one on the same store: a bar resuming from 0 gets the old events
// back, unchanged and with their numbers, and numbering carries on.
func TestE2ERestartKeepsLog(t *testing.T) {
	dir := t.TempDir()
	s1 := e2eStartServer(t, dir, nil)
	tok := s1.token(t, "1001", "pw1001")
	ch := s1.e2eDial(t, tok, nil)
	ch.op(wire.OpSignIn)
	ch.expectState(gateway.StateNotReady)
	ch.op(string(gateway.OpReady))
	ch.expectState(gateway.StateReady)
	ch.ok(wire.ClientMessage{Op: string(gateway.OpNotReady), Reason: "meeting"})
	ch.expect(gateway.EvAgentState, func(ev gateway.Event) bool { return ev.State == gateway.StateNotReady && ev.Reason == "meeting" })
	before := ch.all()
	ch.close()
	s1.stop() // signs 1001 out on the way: that event is logged too

	s2 := e2eStartServer(t, dir, nil)
	tok = s2.token(t, "1001", "pw1001")
	zero := uint64(0)
	back := s2.e2eDial(t, tok, &zero)
	head := back.hello.Seq
	if head < uint64(len(before)) {
		t.Fatalf("after the restart the log ends at %d, before it had %d events", head, len(before))
	}
	back.waitUntil(e2eWait, func() string { return "the old events" }, func() bool { return uint64(len(back.events)) >= head })
	got := back.all()
	for i, e := range got[:head] {
		if e.Seq != uint64(i)+1 {
			t.Fatalf("replay after restart: event %d has seq %d", i, e.Seq)
		}
		if i < len(before) && !bytes.Equal(e.Raw, before[i].Raw) {
			t.Fatalf("event #%d was %s before the restart, %s after", e.Seq, before[i].Raw, e.Raw)
		}
	}
	if last := got[head-1].Ev; head > uint64(len(before)) && (last.Type != gateway.EvAgentState || last.State != gateway.StateSignedOut) {
		t.Fatalf("last event before the restart %s, want the shutdown's sign-out", e2eDescribe(last))
	}

	// Numbering continues where it stopped.
	back.skip(int(head))
	back.op(wire.OpSignIn)
	e := back.expectState(gateway.StateNotReady)
	if e.Seq != head+1 {
		t.Fatalf("first event after the restart has seq %d, want %d", e.Seq, head+1)
	}
	// A bar without resume gets only new events.
	fresh := s2.e2eDial(t, tok, nil)
	if fresh.hello.Seq != head+1 || fresh.hello.Snapshot.State != gateway.StateNotReady {
		t.Fatalf("fresh hello seq %d state %s", fresh.hello.Seq, fresh.hello.Snapshot.State)
	}
	fresh.op(string(gateway.OpReady))
	if e := fresh.expectState(gateway.StateReady); e.Seq != head+2 || len(fresh.all()) != 1 {
		t.Fatalf("fresh bar: first event #%d, %d events", e.Seq, len(fresh.all()))
	}
	t.Logf("%d events before the restart, log head %d after it (the shutdown's sign-out included), new events from #%d", len(before), head, head+1)
}
