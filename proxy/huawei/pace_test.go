package huawei

import (
	"context"
	"testing"

	"github.com/agentbar/agentbar/proxy/gateway"
)

func TestIsQuery(t *testing.T) {
	for path, want := range map[string]bool{
		"onlineagent/291/agentstatus":   true,
		"onlineagent/291/agentskills":   true,
		"onlineagent/291/syncagentinfo": true,
		"onlineagent/291/updateGuid":    true,
		"calldata/291/callinfo":         true,
		"queuedevice/291/waitnum":       true,
		"agentgroup/291/agentbyskill/1": true,
		"onlineagent/291/sayfree":       false,
		"onlineagent/291":               false,
		"onlineagent/291/handshake":     false,
		"voicecall/291/callout":         false,
		"agentevent/291":                false,
	} {
		if isQuery(path) != want {
			t.Errorf("isQuery(%s) != %v", path, want)
		}
	}
}

// TestQueryPacing: the sixth query within the window waits for the first
// to leave it (the clock of this test stands still, so each later query
// waits a full window); commands are not paced.
func TestQueryPacing(t *testing.T) {
	h := newHarness(t, false, nil)
	s := h.signIn(t, gateway.SignInOptions{})
	h.ev.next(t)
	h.f.setReply("GET onlineagent/agentstatus", reply{Retcode: "0", Result: `{"agentState":3,"isWorking":false}`})
	paces := func() int {
		h.clk.mu.Lock()
		defer h.clk.mu.Unlock()
		n := 0
		for _, d := range h.clk.waits {
			if d == queryWindow {
				n++
			}
		}
		return n
	}
	for i := range 5 {
		if _, err := s.Snapshot(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := s.Do(context.Background(), gateway.Command{Op: gateway.OpHold}); err != nil {
			t.Fatal(err)
		}
		if n := paces(); n != 0 {
			t.Fatalf("query %d paced", i+1)
		}
	}
	for i := range 2 {
		if _, err := s.Snapshot(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := paces(); n != i+1 {
			t.Fatalf("query %d: %d pauses of %v, want %d", 6+i, n, queryWindow, i+1)
		}
	}
	// A caller giving up while waiting gets unavailable.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	manual := newHarness(t, true, nil)
	c := &conn{a: manual.a, workNo: testWorkNo}
	for range queryBurst {
		if err := c.paceQuery(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.paceQuery(ctx); gateway.CodeOf(err) != gateway.CodeUnavailable {
		t.Fatalf("cancelled wait: %v", err)
	}
}
