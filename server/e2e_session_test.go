package server

import (
	"testing"
	"time"

	"github.com/agentbar/agentbar/internal/agentphone"
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

// TestE2EEarlyMedia: a phone that answers the offer early (183 with SDP,
// as the bar does while it rings) has its transport up before the agent
// answers: the phone's packets already go out, yet nothing of the call
// reaches it. Once it answers, audio flows both ways at once.
func TestE2EEarlyMedia(t *testing.T) {
	s := e2eStartServer(t, t.TempDir(), nil)
	a := s.e2eBar(t, "1001")
	a.ready()
	callID := s.demoCall(t, "support", "+15550123", nil)
	a.ch.expectCall(gateway.EvCallIncoming, callID)
	call := a.phone.ringing()
	ph, err := agentphone.New(agentphone.Config{LoopbackCandidates: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ph.Close() })
	if err := call.EarlyMedia(t.Context(), ph); err != nil {
		t.Fatal(err)
	}
	e2eEventually(t, 10*time.Second, "the transport to come up while ringing", func() bool { return ph.Stats().PacketsOut > 0 })
	if in := ph.Stats().PacketsIn; in != 0 {
		t.Fatalf("the phone received %d packets before it answered", in)
	}
	if c := e2eCustomer(t, s, callID); len(c.Agents) != 0 {
		t.Fatalf("agents %v connected before the answer", c.Agents)
	}
	if err := call.Answer(t.Context(), ph); err != nil {
		t.Fatal(err)
	}
	first := e2eEventually(t, 10*time.Second, "the first packet after the answer", func() bool { return ph.Stats().PacketsIn > 0 })
	a.ch.expectCall(gateway.EvCallAnswered, callID)
	e2eEventually(t, 10*time.Second, "the phone to hear the customer", e2eHears(ph))
	e2eEventually(t, 10*time.Second, "the customer to hear the phone", e2eCustomerHears(s, callID))
	t.Logf("answer to first packet: %v (polled every frame); INVITE to 180: %v", first, e2eCustomer(t, s, callID).Rang)
	a.ch.op(string(gateway.OpHangup))
	a.ch.expectCall(gateway.EvCallEnded, callID)
}
