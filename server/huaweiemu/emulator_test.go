package huaweiemu

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// isGuid tells whether g has the seed's Guid shape: a UUID, a dot and the
// node name.
func isGuid(g string) bool {
	return regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.AgentGateway1$`).MatchString(g)
}

// agentState asks agentstatus, first moving the clock on so that a test's
// queries keep within the flow control as a paced client's would.
func agentState(f *fixture, agent, guid string) int {
	f.t.Helper()
	f.clock.Advance(queryWindow / queryLimit)
	r := f.call(http.MethodGet, "onlineagent/"+agent+"/agentstatus", guid, nil)
	f.expect(r, "0", "agentstatus")
	var st struct {
		AgentState int  `json:"agentState"`
		IsWorking  bool `json:"isWorking"`
	}
	if err := json.Unmarshal(r.Result, &st); err != nil {
		f.t.Fatal(err)
	}
	return st.AgentState
}

func TestSignInReturnsGuidAndEvents(t *testing.T) {
	f := newFixture(t, nil)
	r := f.call(http.MethodPut, "onlineagent/291", "", map[string]any{"password": "pw291", "phonenum": "40038", "status": "4", "agenttype": "4"})
	f.expect(r, "0", "sign-in")
	g := r.header.Get("Guid")
	if !isGuid(g) || r.header.Get("Set-GUID") != "JSESSIONID="+g {
		t.Fatalf("Guid %q, Set-GUID %q", g, r.header.Get("Set-GUID"))
	}
	var res struct {
		Vdnid      int    `json:"vdnid"`
		Workno     string `json:"workno"`
		LoginTime  string `json:"loginTime"`
		ServerName string `json:"serverName"`
	}
	if err := json.Unmarshal(r.Result, &res); err != nil || res.Workno != "291" || res.Vdnid != 1 || res.LoginTime == "" || res.ServerName != serverName {
		t.Fatalf("result %s (%v)", r.Result, err)
	}
	f.next("291", g, "AgentOther_InService")
	f.next("291", g, "AgentState_Ready")
	if st := agentState(f, "291", g); st != 4 {
		t.Fatalf("agentState %d, want 4", st)
	}
}

func TestWrongGuid(t *testing.T) {
	f := newFixture(t, nil)
	g := f.signIn("291", "pw291", "40038", nil)
	f.expect(f.call(http.MethodPost, "onlineagent/291/sayfree", "bogus.AgentGateway1", nil), "100-006", "wrong Guid")
	f.expect(f.call(http.MethodPost, "onlineagent/291/sayfree", "", nil), "100-006", "no Guid")
	f.expect(f.call(http.MethodGet, "agentevent/291", "bogus", nil), "100-006", "poll with wrong Guid")
	// Another agent's Guid gives no right on this one.
	f.expect(f.call(http.MethodGet, "onlineagent/292/agentstatus", g, nil), "000-003", "other agent's Guid")
	f.expect(f.call(http.MethodGet, "onlineagent/291/agentstatus", g, nil), "0", "right Guid")
}

func TestSignInRefusals(t *testing.T) {
	f := newFixture(t, nil)
	f.expect(f.call(http.MethodPut, "onlineagent/291", "", map[string]any{"password": "nope", "phonenum": "40038"}), "100-004", "wrong password")
	f.expect(f.call(http.MethodPut, "onlineagent/999", "", map[string]any{"password": "x", "phonenum": "1"}), "100-004", "unknown agent")
	f.expect(f.call(http.MethodPut, "onlineagent/291", "", map[string]any{"password": "pw291"}), "100-001", "no phonenum")
	f.expect(f.call(http.MethodPut, "onlineagent/291", "", map[string]any{"password": "pw291", "phonenum": "1"}), "100-013", "wrong phone")
	f.expect(f.call(http.MethodPut, "onlineagent/291", "", map[string]any{"password": "pw291", "phonenum": "40038", "agenttype": 7}), "100-012", "agent type")
	if r := f.call(http.MethodGet, "onlineagent/291", "", nil); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("wrong method: HTTP %d", r.status)
	}
}

func TestAlreadySignedInAndForceLogin(t *testing.T) {
	f := newFixture(t, nil)
	old := f.signIn("291", "pw291", "40038", nil)
	f.drain("291", old)
	r := f.call(http.MethodPut, "onlineagent/291", "", map[string]any{"password": "pw291", "phonenum": "40038"})
	f.expect(r, "100-002", "second sign-in")
	if r.hasResult {
		t.Fatal("a refusal carries a result")
	}
	r = f.call(http.MethodPut, "onlineagent/291/forcelogin", "", map[string]any{"password": "pw291", "phonenum": "40038", "status": 3})
	f.expect(r, "0", "forcelogin")
	g := r.header.Get("Guid")
	if g == "" || g == old {
		t.Fatalf("forcelogin Guid %q (old %q)", g, old)
	}
	// The old Guid reads its session's goodbye, then is refused.
	f.next("291", old, "AgentOther_ShutdownService")
	f.expect(f.call(http.MethodGet, "agentevent/291", old, nil), "100-006", "old Guid after goodbye")
	f.next("291", g, "AgentOther_InService")
	f.next("291", g, "AgentState_Ready")
	c := f.next("291", g, "AgentState_SetNotReady_Success")
	if string(c) != `{"reason":"0"}` {
		t.Fatalf("content %s", c)
	}
	if st := agentState(f, "291", g); st != 3 {
		t.Fatalf("agentState %d, want 3", st)
	}
}

func TestGuidRotationAndExpiry(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.IdleSignOut = time.Hour })
	g1 := f.signIn("291", "pw291", "40038", nil)
	f.drain("291", g1)
	f.clock.Advance(59 * time.Second)
	_, _, r := f.poll("291", g1)
	if r.header.Get("Set-GUID") != "" {
		t.Fatal("rotated before GuidInterval")
	}
	f.clock.Advance(2 * time.Second)
	_, _, r = f.poll("291", g1)
	g2 := r.header.Get("Guid")
	if !isGuid(g2) || g2 == g1 || r.header.Get("Set-GUID") != "JSESSIONID="+g2 {
		t.Fatalf("after rotation: Guid %q Set-GUID %q", g2, r.header.Get("Set-GUID"))
	}
	// The old Guid stays good for GuidTimeout after the rotation.
	f.clock.Advance(119 * time.Second)
	f.expect(f.call(http.MethodGet, "onlineagent/291/agentstatus", g1, nil), "0", "old Guid within GuidTimeout")
	f.expect(f.call(http.MethodGet, "onlineagent/291/agentstatus", g2, nil), "0", "new Guid")
	f.clock.Advance(2 * time.Second)
	f.expect(f.call(http.MethodGet, "onlineagent/291/agentstatus", g1, nil), "100-006", "old Guid after GuidTimeout")
	f.expect(f.call(http.MethodGet, "onlineagent/291/agentstatus", g2, nil), "0", "new Guid still")
	// updateGuid hands out the current one.
	r = f.call(http.MethodPut, "onlineagent/291/updateGuid", g2, nil)
	f.expect(r, "0", "updateGuid")
	var u struct{ Guid string }
	if err := json.Unmarshal(r.Result, &u); err != nil || !isGuid(u.Guid) {
		t.Fatalf("updateGuid result %s", r.Result)
	}
}

func TestLongPoll(t *testing.T) {
	f := newFixture(t, nil)
	g := f.signIn("291", "pw291", "40038", map[string]any{"status": "3"})
	f.next("291", g, "AgentOther_InService")
	f.next("291", g, "AgentState_Ready")
	f.next("291", g, "AgentState_SetNotReady_Success")

	start := time.Now()
	typ, _, r := f.poll("291", g)
	if typ != "" || r.Retcode != "0" || r.Event != nil {
		t.Fatalf("empty poll: %q %q", typ, r.Retcode)
	}
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Fatalf("empty poll returned after %v, want the hold", d)
	}

	// A poll held open returns as soon as the agent goes ready.
	got := make(chan string, 1)
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			req, _ := http.NewRequest(http.MethodGet, f.srv.URL+resourcePrefix+"agentevent/291", nil)
			req.Header.Set("Guid", g)
			res, err := f.srv.Client().Do(req)
			if err != nil {
				got <- err.Error()
				return
			}
			var pr pollReply
			err = json.NewDecoder(res.Body).Decode(&pr)
			res.Body.Close()
			if err != nil {
				got <- err.Error()
				return
			}
			if pr.Event != nil {
				got <- pr.Event.EventType
				return
			}
		}
		got <- "none"
	}()
	f.expect(f.call(http.MethodPost, "onlineagent/291/sayfree", g, nil), "0", "sayfree")
	if typ := <-got; typ != "AgentState_CancelNotReady_Success" {
		t.Fatalf("held poll got %q", typ)
	}
	if st := agentState(f, "291", g); st != 4 {
		t.Fatalf("agentState %d, want 4", st)
	}
}

func TestIdleSignOut(t *testing.T) {
	f := newFixture(t, nil)
	g := f.signIn("291", "pw291", "40038", nil)
	f.drain("291", g)
	f.clock.Advance(119 * time.Second)
	f.expect(f.call(http.MethodGet, "onlineagent/291/agentstatus", g, nil), "0", "before IdleSignOut")
	f.clock.Advance(2 * time.Second)
	f.expect(f.call(http.MethodGet, "onlineagent/291/agentstatus", g, nil), "100-006", "after IdleSignOut")
	// The call center signed the agent out too: a plain sign-in works.
	s, err := f.cc.Gateway().SignIn(context.Background(), "291", gateway.SignInOptions{}, func(gateway.Event) {})
	if err != nil {
		t.Fatalf("the call center still has the agent: %v", err)
	}
	_ = s.Close(context.Background())
	g2 := f.signIn("291", "pw291", "40038", nil)
	f.next("291", g2, "AgentOther_InService")
}

func TestPollsKeepTheAgentSignedIn(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.GuidInterval, c.GuidTimeout = time.Hour, 2*time.Hour })
	g := f.signIn("291", "pw291", "40038", nil)
	for range 4 {
		f.clock.Advance(100 * time.Second)
		f.poll("291", g)
	}
	f.expect(f.call(http.MethodGet, "onlineagent/291/agentstatus", g, nil), "0", "after 400 s of polls")
}

func TestStateOperations(t *testing.T) {
	f := newFixture(t, nil)
	g := f.signIn("291", "pw291", "40038", nil)
	f.drain("291", g)
	op := func(method, path, code string) {
		t.Helper()
		f.expect(f.call(method, "onlineagent/291/"+path, g, nil), code, path)
	}
	// Busy with a reason: 200 is the call center's first not-ready reason.
	op(http.MethodPost, "saybusy?reason=201", "0")
	if c := f.next("291", g, "AgentState_SetNotReady_Success"); string(c) != `{"reason":"201"}` {
		t.Fatalf("busy content %s", c)
	}
	if st := agentState(f, "291", g); st != 3 {
		t.Fatalf("agentState %d, want 3", st)
	}
	op(http.MethodPost, "saybusy?reason=200", "100-009")
	op(http.MethodPost, "saybusy?reason=200&prolong=true", "0")
	f.next("291", g, "AgentState_SetNotReady_Success")
	op(http.MethodPost, "saybusy?reason=999", "000-002")
	op(http.MethodPost, "saybusy?reason=250", "000-002") // no such reason configured
	op(http.MethodPost, "cancelbusy", "0")
	f.next("291", g, "AgentState_CancelNotReady_Success")
	op(http.MethodPost, "cancelbusy", "100-009")
	op(http.MethodPost, "cancelrest", "100-009")
	op(http.MethodPost, "cancelwork", "100-009")

	op(http.MethodPost, "rest/600/2", "0")
	if c := f.next("291", g, "AgentState_SetRest_Success"); string(c) != `{"reason":"2"}` {
		t.Fatalf("rest content %s", c)
	}
	if st := agentState(f, "291", g); st != 8 {
		t.Fatalf("agentState %d, want 8", st)
	}
	op(http.MethodPost, "rest/600/1", "100-009")
	op(http.MethodPost, "rest/0/1", "000-002")
	op(http.MethodPost, "cancelrest", "0")
	f.next("291", g, "AgentState_CancelRest_Success")

	op(http.MethodPost, "work", "0")
	f.next("291", g, "AgentState_SetWork_Success")
	if st := agentState(f, "291", g); st != 5 {
		t.Fatalf("agentState %d, want 5", st)
	}
	op(http.MethodPost, "work", "100-009")
	op(http.MethodPost, "cancelwork", "0")
	f.next("291", g, "AgentState_CancelWork_Success")
	if r := f.call(http.MethodPut, "onlineagent/291/sayfree", g, nil); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("wrong method: HTTP %d", r.status)
	}

	op(http.MethodDelete, "logout", "0")
	f.next("291", g, "AgentOther_ShutdownService")
	f.expect(f.call(http.MethodGet, "agentevent/291", g, nil), "100-006", "poll after sign-out")
	op(http.MethodPost, "sayfree", "100-006")
}

func TestCallOperationsWithoutACall(t *testing.T) {
	f := newFixture(t, nil)
	g := f.signIn("291", "pw291", "40038", nil)
	f.drain("291", g)
	cases := []struct{ method, path, code string }{
		{http.MethodPost, "hold", "200-013"},
		{http.MethodPost, "gethold", "200-015"},
		{http.MethodPost, "beginmute", "200-003"},
		{http.MethodPost, "endmute", "200-007"},
		{http.MethodDelete, "release", "200-017"},
		{http.MethodPut, "answer", "200-002"},
		{http.MethodPost, "dropcall/1-1", "200-025"},
		{http.MethodPost, "canceltransfer", "200-012"},
		{http.MethodPost, "seconddial?number=12x", "000-002"},
	}
	for _, c := range cases {
		f.expect(f.call(c.method, "voicecall/291/"+c.path, g, nil), c.code, c.path)
	}
	f.expect(f.call(http.MethodPost, "voicecall/291/reject", g, map[string]any{"mode": "1"}), "200-037", "reject")
	f.expect(f.call(http.MethodPost, "voicecall/291/reject", g, map[string]any{"mode": "9"}), "000-002", "reject mode")
	f.expect(f.call(http.MethodPost, "voicecall/291/transfer", g, map[string]any{"devicetype": 2, "mode": 0, "address": "292"}), "200-012", "transfer")
	f.expect(f.call(http.MethodPost, "voicecall/291/transfer", g, map[string]any{"devicetype": 3, "mode": 0, "address": "1"}), "000-002", "transfer to IVR")
	f.expect(f.call(http.MethodPost, "voicecall/291/innerhelp", g, map[string]any{"dstaddress": 292, "devicetype": 2, "mode": 1}), "200-018", "innerhelp")
	f.expect(f.call(http.MethodPost, "voicercall/291/confjoin", g, map[string]any{"callid": "1-1"}), "200-010", "confjoin (misspelt path)")
	f.expect(f.call(http.MethodPut, "voicecall/291/callout", g, map[string]any{"called": "abc"}), "200-001", "callout bad number")
	// No phone is registered: the call center refuses the dial.
	f.expect(f.call(http.MethodPut, "voicecall/291/callout", g, map[string]any{"called": "40040"}), "100-007", "callout without phone")
	r := f.call(http.MethodGet, "calldata/291/callinfo", g, nil)
	f.expect(r, "0", "callinfo")
	if string(r.Result) != "null" {
		t.Fatalf("callinfo without a call: %s", r.Result)
	}
	// Logout is allowed (no call) and the Guid dies.
	f.expect(f.call(http.MethodDelete, "onlineagent/291/logout", g, nil), "0", "logout")
	f.expect(f.call(http.MethodGet, "onlineagent/291/agentstatus", g, nil), "100-006", "status after logout")
}

func TestRestartLosesSessions(t *testing.T) {
	f := newFixture(t, nil)
	g := f.signIn("291", "pw291", "40038", nil)
	f.drain("291", g)
	f.emu.Restart()
	f.expect(f.call(http.MethodGet, "agentevent/291", g, nil), "100-006", "poll after restart")
	f.expect(f.call(http.MethodPost, "onlineagent/291/saybusy", g, nil), "100-006", "saybusy after restart")
	g2 := f.signIn("291", "pw291", "40038", nil)
	f.next("291", g2, "AgentOther_InService")
}

// slowSignOut is a call center whose sign-outs take a while: closing
// tells when one starts.
type slowSignOut struct {
	gateway.Gateway
	closing chan struct{}
}

func (g slowSignOut) SignIn(ctx context.Context, agent string, opts gateway.SignInOptions, sink func(gateway.Event)) (gateway.Session, error) {
	s, err := g.Gateway.SignIn(ctx, agent, opts, sink)
	if err != nil {
		return nil, err
	}
	return slowSession{s, g.closing}, nil
}

type slowSession struct {
	gateway.Session
	closing chan struct{}
}

func (s slowSession) Close(ctx context.Context) error {
	s.closing <- struct{}{}
	time.Sleep(300 * time.Millisecond)
	return s.Session.Close(ctx)
}

// TestSignInDuringRestart: an adapter that signs in again on its 100-006
// while the restart is still signing the agent out at the call center
// waits for that, and is signed in, rather than refused as signed in
// elsewhere.
func TestSignInDuringRestart(t *testing.T) {
	closing := make(chan struct{}, 4)
	f := newFixture(t, func(c *Config) { c.Gateway = slowSignOut{c.Gateway, closing} })
	g := f.signIn("291", "pw291", "40038", nil)
	f.drain("291", g)
	restarted := make(chan struct{})
	go func() { f.emu.Restart(); close(restarted) }()
	<-closing
	g2 := f.signIn("291", "pw291", "40038", nil)
	<-restarted
	f.next("291", g2, "AgentOther_InService")
}

func TestUnknownResource(t *testing.T) {
	f := newFixture(t, nil)
	r := f.call(http.MethodGet, "nosuch/291/x", "", nil)
	if r.status != http.StatusNotFound || r.Retcode != "210-001" {
		t.Fatalf("HTTP %d retcode %q", r.status, r.Retcode)
	}
}
