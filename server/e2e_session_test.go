package server

import (
	"testing"
	"time"

	"github.com/agentbar/agentbar/proxy/control/wire"
	"github.com/agentbar/agentbar/proxy/gateway"
)

// TestE2ERenewAndStats: a bar signed in at POST /v1/session renews its
// token over the channel without the password; the fresh token opens a
// channel of its own and the old channel lives on under it. get_stats
// reports the agent's queue and calls from the built-in call center.
func TestE2ERenewAndStats(t *testing.T) {
	s := e2eStartServer(t, t.TempDir(), nil)
	a := s.e2eBar(t, "1001")

	r := a.ch.op(wire.OpRenewToken)
	if r.Token == "" || r.Token == a.token || r.Expires == nil || time.Until(*r.Expires) < 30*time.Minute {
		t.Fatalf("renew_token reply: token %t, expires %v", r.Token != "", r.Expires)
	}
	fresh := s.e2eDial(t, r.Token, nil)
	if fresh.hello.Agent != "1001" || fresh.hello.Snapshot.State != gateway.StateNotReady {
		t.Fatalf("hello with the renewed token: %+v", fresh.hello)
	}

	a.ready()
	callID := s.demoCall(t, "support", "+15550123", nil)
	a.ch.expectCall(gateway.EvCallIncoming, callID)
	a.phone.answer(a.phone.ringing())
	a.ch.expectCall(gateway.EvCallAnswered, callID)
	st := a.ch.op(wire.OpGetStats).Stats
	if st == nil || st.Agent == nil || st.Agent.Answered != 1 || len(st.Queues) == 0 || st.Queues[0].ID != "support" || st.Time.IsZero() {
		t.Fatalf("get_stats while talking: %+v", st)
	}
	a.ch.op(string(gateway.OpHangup))
	a.ch.expectCall(gateway.EvCallEnded, callID)
}
