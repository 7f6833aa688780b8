package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentbar/agentbar/proxy/control/wire"
	"github.com/agentbar/agentbar/server/config"
)

type stubIssuer struct{}

func (stubIssuer) Issue(agent, name string) (string, time.Time, error) {
	return "token-for-" + agent, time.Unix(2e9, 0), nil
}

// TestSessionThrottle: after agentBurst wrong passwords an agent's
// sign-ins get 429 with Retry-After, even with the right password, until
// the bucket refills; another agent is unaffected; a success clears the
// agent's failures; one address guessing across many agents is throttled
// too.
func TestSessionThrottle(t *testing.T) {
	clock := time.Unix(1e9, 0)
	now := func() time.Time { return clock }
	var agents []config.Agent
	for _, id := range []string{"1001", "1002"} {
		agents = append(agents, config.Agent{ID: id, Password: "pw" + id})
	}
	sipAddr := func(agent string) wire.SIPAddress {
		return wire.SIPAddress{URI: "ws://bar.test/v1/sip", AOR: "sip:" + agent + "@agentbar.test"}
	}
	h := handleSession(newDirectory(agents), stubIssuer{}, sipAddr, now)
	post := func(addr, agent, password string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/v1/session", strings.NewReader(`{"agent":"`+agent+`","password":"`+password+`"}`))
		r.RemoteAddr = addr + ":40000"
		w := httptest.NewRecorder()
		h(w, r)
		return w
	}
	for i := range agentBurst {
		if w := post("192.0.2.1", "1001", "wrong"); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong password #%d: %d %s", i+1, w.Code, w.Body)
		}
	}
	w := post("192.0.2.1", "1001", "pw1001")
	if w.Code != http.StatusTooManyRequests || !strings.Contains(w.Body.String(), `"too_many_attempts"`) {
		t.Fatalf("after %d failures: %d %s, want 429 too_many_attempts", agentBurst, w.Code, w.Body)
	}
	if ra := w.Header().Get("Retry-After"); ra != "21" {
		t.Fatalf("Retry-After %q, want 21 (one refill of %v, rounded up)", ra, agentEvery)
	}
	if w := post("192.0.2.2", "1002", "pw1002"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"sip":{"uri":"ws://bar.test/v1/sip","aor":"sip:1002@agentbar.test"}`) {
		t.Fatalf("another agent: %d %s (want the phone's address)", w.Code, w.Body)
	}
	clock = clock.Add(agentEvery)
	if w := post("192.0.2.1", "1001", "pw1001"); w.Code != http.StatusOK {
		t.Fatalf("after %v: %d %s", agentEvery, w.Code, w.Body)
	}
	// The success cleared the agent's bucket: a full burst again.
	for i := range agentBurst {
		if w := post("192.0.2.3", "1001", "wrong"); w.Code != http.StatusUnauthorized {
			t.Fatalf("after the success, wrong password #%d: %d", i+1, w.Code)
		}
	}

	// One address, a different agent id each time.
	for i := range addrBurst {
		if w := post("198.51.100.7", "guess"+string(rune('a'+i%26))+string(rune('a'+i/26)), "x"); w.Code != http.StatusUnauthorized {
			t.Fatalf("guess #%d: %d", i+1, w.Code)
		}
	}
	if w := post("198.51.100.7", "1002", "pw1002"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("address after %d failures: %d, want 429", addrBurst, w.Code)
	}
}

// TestThrottleBounded: a flood of keys does not grow the throttle without
// bound.
func TestThrottleBounded(t *testing.T) {
	th := newThrottle(5, time.Second, time.Now)
	th.max = 100
	for i := range 1000 {
		th.fail(strings.Repeat("k", 1+i%7) + string(rune(i)))
	}
	if n := len(th.buckets); n > th.max {
		t.Fatalf("%d buckets, max %d", n, th.max)
	}
}
