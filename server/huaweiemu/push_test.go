package huaweiemu

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// pushed is one push request the receiver got.
type pushed struct {
	guid, token, workNo string
	types               []string
}

// receiver is a push callback that records each request and answers
// retcode 0, or refuses the first `refuse` requests.
func receiver(t *testing.T, refuse int) (*httptest.Server, chan pushed) {
	ch := make(chan pushed, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			WorkNo    string `json:"workNo"`
			EventList []struct {
				EventType string `json:"eventType"`
			} `json:"eventList"`
		}
		raw, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || json.Unmarshal(raw, &body) != nil {
			t.Errorf("push: %s %s", r.Method, raw)
		}
		p := pushed{guid: r.Header.Get("Guid"), token: r.Header.Get("service_token"), workNo: body.WorkNo}
		for _, e := range body.EventList {
			p.types = append(p.types, e.EventType)
		}
		ch <- p
		rc := "0"
		if refuse > 0 {
			refuse--
			rc = "000-003"
		}
		w.Write([]byte(`{"message":"","retcode":"` + rc + `"}`))
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

// nextPush waits for the next push request.
func nextPush(t *testing.T, ch chan pushed) pushed {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no push arrived")
		return pushed{}
	}
}

// pushUntil waits for a push carrying event typ.
func pushUntil(t *testing.T, ch chan pushed, typ string) pushed {
	t.Helper()
	for {
		p := nextPush(t, ch)
		for _, e := range p.types {
			if e == typ {
				return p
			}
		}
	}
}

func TestPushModeAndHeartbeatRules(t *testing.T) {
	f := newFixture(t, nil)
	rcv, ch := receiver(t, 1)
	cb := rcv.URL + "/v1/agentevent/pushresult"
	// Push mode needs both parameters, valid (seed lines 6893, 6896).
	f.expect(f.call(http.MethodPut, "onlineagent/292", "", map[string]any{"password": "pw292", "phonenum": "1", "callbackUri": cb, "serviceToken": "bad token!"}), "100-001", "token with special characters")
	f.expect(f.call(http.MethodPut, "onlineagent/292", "", map[string]any{"password": "pw292", "phonenum": "1", "callbackUri": "ftp://x", "serviceToken": "Tok1"}), "100-001", "callback not http")

	g := f.signIn("291", "pw291", "40038", map[string]any{"callbackUri": cb, "serviceToken": "Tok1"})
	// The first push is refused and comes again.
	first, again := nextPush(t, ch), nextPush(t, ch)
	if first.types[0] != eventInService || again.types[0] != eventInService {
		t.Fatalf("pushes %v then %v", first.types, again.types)
	}
	if again.guid != g || again.token != "Tok1" || again.workNo != "291" {
		t.Fatalf("push headers: Guid ok %v, token %q, workNo %q", again.guid == g, again.token, again.workNo)
	}
	f.expect(f.call(http.MethodGet, "agentevent/291", g, nil), "000-001", "poll in push mode")

	// A heartbeat renews the token; a malformed one is refused.
	hb := func(guid, token string) resp {
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+resourcePrefix+"onlineagent/291/handshake", nil)
		req.Header.Set("Content-Type", "application/json; charset=UTF-8")
		req.Header.Set("Guid", guid)
		req.Header["service_token"] = []string{token}
		res, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		r := resp{status: res.StatusCode, header: res.Header}
		var keys map[string]json.RawMessage
		if json.Unmarshal(raw, &r) != nil || json.Unmarshal(raw, &keys) != nil {
			t.Fatalf("handshake answer %s", raw)
		}
		_, r.hasResult = keys["result"]
		return r
	}
	f.expect(hb(g, "has space"), "100-001", "malformed service_token")
	r := hb(g, "Tok2")
	f.expect(r, "0", "heartbeat")
	if r.hasResult || r.Message != "success" || r.header.Get("Guid") != "" {
		t.Fatalf("heartbeat answer: result %v message %q Guid header %v", r.hasResult, r.Message, r.header.Get("Guid") != "")
	}
	f.expect(f.call(http.MethodPost, "onlineagent/291/saybusy", g, nil), "0", "saybusy")
	if p := pushUntil(t, ch, eventSetNotReady); p.token != "Tok2" {
		t.Fatalf("push after the renewal carries token %q", p.token)
	}

	// The Guid rotates at a heartbeat, in its Guid header (seed line 7204).
	f.clock.Advance(61 * time.Second)
	r = hb(g, "")
	f.expect(r, "0", "heartbeat after GuidInterval")
	g2 := r.header.Get("Guid")
	if !isGuid(g2) || g2 == g {
		t.Fatal("no rotated Guid in the heartbeat answer")
	}
	f.expect(f.call(http.MethodPost, "onlineagent/291/cancelbusy", g2, nil), "0", "cancelbusy with the new Guid")
	if p := pushUntil(t, ch, eventCancelNotReady); p.guid != g2 {
		t.Fatal("push after the rotation without the new Guid")
	}

	// Two minutes without a heartbeat sign the agent out.
	f.clock.Advance(119 * time.Second)
	f.expect(hb(g2, ""), "0", "heartbeat within 2 min")
	f.clock.Advance(121 * time.Second)
	f.expect(hb(g2, ""), "100-006", "heartbeat after 2 min of silence")
	pushUntil(t, ch, eventShutdown)
}

func TestHandshakeInPollMode(t *testing.T) {
	f := newFixture(t, nil)
	g := f.signIn("291", "pw291", "40038", nil)
	f.expect(f.call(http.MethodPost, "onlineagent/291/handshake", g, nil), "000-001", "handshake in poll mode")
	f.expect(f.call(http.MethodPost, "onlineagent/291/handshake", "nope", nil), "100-006", "handshake without a session")
}

func TestQueryFlowControl(t *testing.T) {
	f := newFixture(t, nil)
	g := f.signIn("291", "pw291", "40038", nil)
	queries := []string{"onlineagent/291/agentstatus", "calldata/291/callinfo", "onlineagent/291/agentskills", "onlineagent/291/agentstatus", "calldata/291/callinfo"}
	for _, q := range queries {
		f.expect(f.call(http.MethodGet, q, g, nil), "0", q)
	}
	f.expect(f.call(http.MethodPut, "onlineagent/291/updateGuid", g, nil), "999-002", "sixth query in 2 s")
	f.expect(f.call(http.MethodGet, "onlineagent/291/agentstatus", g, nil), "999-002", "seventh query in 2 s")
	f.expect(f.call(http.MethodPost, "onlineagent/291/saybusy", g, nil), "0", "other operations are not counted")
	f.clock.Advance(queryWindow)
	f.expect(f.call(http.MethodGet, "onlineagent/291/agentstatus", g, nil), "0", "query after the window")
	r := f.call(http.MethodGet, "onlineagent/291/agentskills", g, nil)
	f.expect(r, "0", "agentskills")
	if string(r.Result) != `[{"id":1,"mediatype":5,"name":"Support"}]` {
		t.Fatalf("agentskills %s", r.Result)
	}
}
