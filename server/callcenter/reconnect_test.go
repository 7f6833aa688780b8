package callcenter

import (
	"strings"
	"testing"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
	"github.com/agentbar/agentbar/sip"
)

func TestReconnectMediaSwapsTheAgentLeg(t *testing.T) {
	cc, fm := newTestCC(t, nil)
	a1 := signIn(t, cc, "a1", answerCalls)

	// no call: refused
	err := a1.sess.Do(t.Context(), gateway.Command{Op: gateway.OpReconnectMedia})
	if gateway.CodeOf(err) != gateway.CodeNoCall {
		t.Fatalf("reconnect_media without a call = %v, want no_call", err)
	}

	a1.ready(t)
	id, err := cc.PlaceCall("support", "bob", map[string]string{"order": "42"})
	if err != nil {
		t.Fatal(err)
	}
	a1.ev.call(gateway.EvCallAnswered)
	old := a1.phone.next()

	cc.mu.Lock()
	l := cc.agents["a1"].legs[0]
	oldMedia, oldSIP := l.media, l.sipID
	cc.mu.Unlock()

	a1.do(t, gateway.Command{Op: gateway.OpReconnectMedia, CallID: id})
	nc := a1.phone.next()
	if nc.ID() == old.ID() {
		t.Fatal("the phone got no new dialog")
	}
	if h := nc.Header("Call-Info"); !strings.Contains(h, "answer-after=0") {
		t.Errorf("new INVITE Call-Info = %q, want answer-after=0", h)
	}
	if h := nc.Header("X-Agentbar-Call-ID"); h != id {
		t.Errorf("new INVITE X-Agentbar-Call-ID = %q, want %s", h, id)
	}
	if h := nc.Header("X-Agentbar-Data"); h != "order=42" {
		t.Errorf("new INVITE X-Agentbar-Data = %q", h)
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		cc.mu.Lock()
		swapped := l.sipID != oldSIP
		cc.mu.Unlock()
		if swapped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the leg kept its old dialog")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// the old dialog is released with a BYE, the new one stays up
	waitEnded(t, old)
	if cause, _, _ := old.End(); cause != sip.CauseRemoteHangup {
		t.Errorf("old dialog ended with %s, want a BYE from the call center", cause)
	}
	select {
	case <-nc.Done():
		t.Fatal("the new dialog ended")
	default:
	}

	cc.mu.Lock()
	newMedia, newSIP, state := l.media, l.sipID, l.state
	bySIP, byOld := cc.legsBySIP[newSIP], cc.legsBySIP[oldSIP]
	cc.mu.Unlock()
	if state != legConnected || newMedia == oldMedia || newSIP != nc.ID() || bySIP != l || byOld != nil {
		t.Errorf("leg after reconnect: state %d, new media %v, sip %s (phone %s), by new %v, by old %v",
			state, newMedia != oldMedia, newSIP, nc.ID(), bySIP != nil, byOld != nil)
	}
	b := fm.Bridges()[0]
	b.mu.Lock()
	_, hasNew := b.held[newMedia]
	_, hasOld := b.held[oldMedia]
	n := len(b.held)
	b.mu.Unlock()
	if !hasNew || hasOld || n != 2 {
		t.Errorf("bridge: new leg %v, old leg %v, %d members; want the new leg and the customer", hasNew, hasOld, n)
	}
	if s := stats(t, cc, id); s.Ended || s.Held {
		t.Errorf("call after reconnect = %+v, want up", s)
	}
	if snap, _ := a1.sess.Snapshot(t.Context()); snap.State != gateway.StateBusy || len(snap.Calls) != 1 || snap.Calls[0].State != "talking" {
		t.Errorf("snapshot after reconnect = %+v", snap)
	}

	// the reconnection emitted nothing: no call.ended, no state change
	time.Sleep(100 * time.Millisecond)
	a1.ev.mu.Lock()
	if extra := a1.ev.events[a1.ev.next:]; len(extra) != 0 {
		t.Errorf("events after reconnect_media: %s", describe(extra))
	}
	a1.ev.mu.Unlock()
	// hanging up now ends the call once, over the new dialog
	a1.do(t, gateway.Command{Op: gateway.OpHangup})
	a1.ev.ended(CauseAgentHangup)
	waitEnded(t, nc)
}
