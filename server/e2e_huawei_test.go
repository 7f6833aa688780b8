package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbar/agentbar/internal/logbuf"
	"github.com/agentbar/agentbar/proxy/control/wire"
	"github.com/agentbar/agentbar/proxy/gateway"
	"github.com/agentbar/agentbar/server/config"
	"github.com/agentbar/agentbar/server/huaweiemu"
	"github.com/agentbar/agentbar/sip"
)

// e2eHuaweiSecrets collects what the demo emulator was given and issued:
// the CTI passwords and every Guid.
type e2eHuaweiSecrets struct {
	mu        sync.Mutex
	passwords []string
	guids     []string
}

func (x *e2eHuaweiSecrets) guidCount() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.guids)
}

func (x *e2eHuaweiSecrets) all() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append(append([]string(nil), x.passwords...), x.guids...)
}

// e2eStartHuaweiServer starts a server like e2eStartServer, selecting the
// Huawei demo the way `AGENTBAR_GATEWAY=huawei make run` does (Guid
// rotation every 300 ms, old Guids valid 600 ms, empty polls held 500 ms),
// with its logs (debug and up) in logs.
func e2eStartHuaweiServer(t *testing.T, logs *logbuf.Buffer, secrets *e2eHuaweiSecrets) *e2eServer {
	t.Helper()
	hook := func(c *huaweiemu.Config) {
		for _, a := range c.Agents {
			secrets.passwords = append(secrets.passwords, a.Password)
		}
		c.OnGuid = func(g string) {
			secrets.mu.Lock()
			secrets.guids = append(secrets.guids, g)
			secrets.mu.Unlock()
		}
	}
	s := e2eStartServerWith(t, e2eSetup{
		storeDir: t.TempDir(),
		env:      map[string]string{"AGENTBAR_GATEWAY": "huawei"},
		edit: func(cfg *config.Config) {
			cfg.Gateway.Huawei.Demo.GuidInterval = 300 * time.Millisecond
			cfg.Gateway.Huawei.Demo.GuidTimeout = 600 * time.Millisecond
			cfg.Gateway.Huawei.Demo.PollHold = 500 * time.Millisecond
			cfg.Gateway.Huawei.Poll.ResignInBackoff = 200 * time.Millisecond
		},
		logs:  logs,
		level: slog.LevelDebug,
		opts:  []option{func(s *Server) { s.huaweiEmulatorHook = hook }},
	})
	if s.srv.hwDemo == nil {
		t.Fatal("AGENTBAR_GATEWAY=huawei did not start the demo emulator")
	}
	return s
}

// e2eByCaller matches a call event by the customer's number (the page
// sees Huawei call ids, not the call center's).
func e2eByCaller(caller string) func(gateway.Event) bool {
	return func(ev gateway.Event) bool { return ev.Call != nil && ev.Call.Caller == caller }
}

// messages is every message the page received on c, as JSON.
func (c *e2eChan) messages() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	add := func(v any) {
		b, _ := json.Marshal(v)
		out = append(out, string(b))
	}
	add(c.hello)
	for _, e := range c.events {
		out = append(out, string(e.Raw))
	}
	for _, n := range c.notices {
		add(n)
	}
	for _, r := range c.replies {
		add(r)
	}
	for _, m := range c.errs {
		add(m)
	}
	return out
}

// TestE2EHuaweiDemo runs the bar against the Huawei adapter, which talks
// over real HTTP to the emulated CC-Gateway in front of the built-in call
// center: sign-in, ready, a call with audio across several Guid rotations,
// hold and resume, a blind transfer, hang-up, wrap-up, not ready with a
// reason, sign-out, a CC-Gateway restart the adapter recovers from, and no
// CTI password or Guid in anything sent to the page or logged.
func TestE2EHuaweiDemo(t *testing.T) {
	logs, secrets := &logbuf.Buffer{}, &e2eHuaweiSecrets{}
	s := e2eStartHuaweiServer(t, logs, secrets)

	res, err := http.Get(s.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	ready, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/readyz %d %s", res.StatusCode, ready)
	}

	a1 := s.e2eBar(t, "1001") // alone, so every Guid issued during the call is its rotation
	if r := a1.ch.hello.Reasons; r[0].Code != "200" || r[0].Label != "Meeting" || r[1].Code != "1" || !r[1].Rest {
		t.Fatalf("reasons offered through Huawei: %+v", r)
	}
	a1.ready()

	// A customer call rings 1001 and is answered on the phone, with audio.
	const caller = "+15550100"
	callID := s.demoCall(t, "support", caller, nil)
	in := a1.ch.expect(gateway.EvCallIncoming, e2eByCaller(caller))
	hwID := in.Ev.Call.ID
	if hwID == "" || hwID == callID || in.Ev.Call.Queue != "support" {
		t.Fatalf("call.incoming %+v (call center id %s)", in.Ev.Call, callID)
	}
	a1.ch.expectCall(gateway.EvCallRinging, hwID)
	sc1 := a1.phone.ringing()
	ph1 := a1.phone.answer(sc1)
	a1.ch.expectCall(gateway.EvCallAnswered, hwID)
	e2eEventually(t, 10*time.Second, "1001's phone to hear the customer", e2eHears(ph1))
	e2eEventually(t, 10*time.Second, "the customer to hear 1001", e2eCustomerHears(s, callID))

	// The call lasts across several Guid rotations; the adapter follows,
	// and audio still flows both ways afterwards.
	g0, t0 := secrets.guidCount(), time.Now()
	e2eEventually(t, 10*time.Second, "3 Guid rotations during the call", func() bool { return secrets.guidCount()-g0 >= 3 })
	e2eEventually(t, 10*time.Second, "1001's phone to hear the customer after the rotations", e2eHears(ph1))
	e2eEventually(t, 10*time.Second, "the customer to hear 1001 after the rotations", e2eCustomerHears(s, callID))
	st, cs := ph1.Stats(), e2eCustomer(t, s, callID)
	t.Logf("call up %v: %d Guid rotations; phone %d packets in at %.1f dBFS; customer %d frames in at level %.3f",
		time.Since(t0).Round(time.Millisecond), secrets.guidCount()-g0, st.PacketsIn, st.LevelIn, cs.Customer.PacketsIn, cs.Customer.LevelIn)

	// Hold and resume, with the Guid of now.
	a1.ch.op(string(gateway.OpHold))
	a1.ch.expectCall(gateway.EvCallHeld, hwID)
	if !e2eCustomer(t, s, callID).Held {
		t.Fatal("customer not held")
	}
	a1.ch.op(string(gateway.OpResume))
	a1.ch.expectCall(gateway.EvCallResumed, hwID)
	if e2eCustomer(t, s, callID).Held {
		t.Fatal("customer still held after resume")
	}

	// Blind transfer to 1002: 1001 ends in wrap-up, 1002 takes the call.
	a2 := s.e2eBar(t, "1002")
	a2.ready()
	a1.ch.ok(wire.ClientMessage{Op: string(gateway.OpTransfer), Target: &gateway.Target{Kind: gateway.TargetAgent, ID: "1002"}})
	a1.ch.expectCall(gateway.EvCallEnded, hwID)
	a1.ch.expectState(gateway.StateWrapUp)
	e2eEnded(t, sc1, sip.CauseRemoteHangup)
	in2 := a2.ch.expect(gateway.EvCallIncoming, e2eByCaller(caller))
	hwID2 := in2.Ev.Call.ID
	sc2 := a2.phone.ringing()
	ph2 := a2.phone.answer(sc2)
	a2.ch.expectCall(gateway.EvCallAnswered, hwID2)
	e2eEventually(t, 10*time.Second, "1002's phone to hear the customer", e2eHears(ph2))

	// 1002 hangs up and finishes wrap-up; 1001's wrap-up times out.
	a2.ch.op(string(gateway.OpHangup))
	a2.ch.expectCall(gateway.EvCallEnded, hwID2)
	a2.ch.expectState(gateway.StateWrapUp)
	e2eEnded(t, sc2, sip.CauseRemoteHangup) // the CTI hung the phone up
	a2.ch.op(string(gateway.OpWrapUpDone))
	a2.ch.expectState(gateway.StateReady)
	a1.ch.expectState(gateway.StateReady)

	// Not ready with a reason, then sign-out.
	a1.ch.ok(wire.ClientMessage{Op: string(gateway.OpNotReady), Reason: "200"})
	a1.ch.expect(gateway.EvAgentState, func(ev gateway.Event) bool { return ev.State == gateway.StateNotReady && ev.Reason == "200" })
	a1.ch.op(wire.OpSignOut)
	a1.ch.expectState(gateway.StateSignedOut)

	// CC-Gateway restarts: the adapter signs 1002 in again and tells the page.
	before := secrets.guidCount()
	s.srv.hwDemo.emu.Restart()
	a2.ch.expect(gateway.EvNotice, func(ev gateway.Event) bool { return ev.Code == "session_restored" })
	a2.ch.expectState(gateway.StateNotReady)
	a2.ready()
	callID3 := s.demoCall(t, "support", "+15550111", nil)
	in3 := a2.ch.expect(gateway.EvCallIncoming, e2eByCaller("+15550111"))
	sc3 := a2.phone.ringing()
	a2.phone.answer(sc3)
	a2.ch.expectCall(gateway.EvCallAnswered, in3.Ev.Call.ID)
	e2eEventually(t, 10*time.Second, "the customer to hear 1002 after the restart", e2eCustomerHears(s, callID3))
	a2.ch.op(string(gateway.OpHangup))
	a2.ch.expectCall(gateway.EvCallEnded, in3.Ev.Call.ID)
	if secrets.guidCount() <= before {
		t.Fatal("no Guid issued by the re-sign-in")
	}
	a2.ch.op(wire.OpSignOut)
	a2.ch.expectState(gateway.StateSignedOut)

	// Nothing secret reached the page or the logs.
	s.stop()
	var sent []string
	for _, c := range []*e2eChan{a1.ch, a2.ch} {
		sent = append(sent, c.messages()...)
	}
	sent = append(sent, string(ready))
	all, logText := secrets.all(), logs.String()
	if len(secrets.passwords) != len(s.cfg.CallCenter.Agents) || len(all) < 10 {
		t.Fatalf("collected %d passwords and %d secrets in all", len(secrets.passwords), len(all))
	}
	for _, sec := range all {
		if strings.Contains(logText, sec) {
			t.Errorf("a CTI secret (%d chars) appears in the server log", len(sec))
		}
		for _, m := range sent {
			if strings.Contains(m, sec) {
				t.Errorf("a CTI secret (%d chars) was sent to the page: %.200s", len(sec), m)
			}
		}
	}
	t.Logf("scanned %d messages to the page and %d bytes of log for %d passwords and %d Guids", len(sent), len(logText), len(secrets.passwords), len(all)-len(secrets.passwords))
}
