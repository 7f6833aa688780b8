package huawei

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

func findReq(reqs []recorded, method, path string) (recorded, bool) {
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Method == method && reqs[i].Path == path {
			return reqs[i], true
		}
	}
	return recorded{}, false
}

func TestSignInGuid(t *testing.T) {
	h := newHarness(t, false, nil)
	h.signIn(t, gateway.SignInOptions{})
	if ev := h.ev.next(t); ev.Type != gateway.EvAgentState || ev.State != gateway.StateNotReady {
		t.Fatalf("first event %+v", ev)
	}
	h.f.push(rawEvent("AgentOther_InService", "null"), rawEvent("AgentState_Ready", "null"),
		rawEvent("AgentState_SetNotReady_Success", `{"reason":"0"}`), rawEvent("AgentState_Ready", "null"))
	// InService passes through; the sign-in Ready is dropped; SetNotReady
	// repeats the current state and is folded; the later Ready counts.
	if ev := h.ev.next(t); ev.Type != gateway.EvNotice || ev.Code != "AgentOther_InService" {
		t.Fatalf("got %+v", ev)
	}
	if ev := h.ev.next(t); ev.State != gateway.StateReady {
		t.Fatalf("got %+v", ev)
	}
	reqs := h.f.requests()
	in, _ := findReq(reqs, "PUT", "onlineagent")
	if in.Body["status"] != float64(3) || in.Body["releasephone"] != true || in.Body["phonenum"] != testPhone {
		t.Errorf("sign-in body %v", in.Body)
	}
	poll, ok := findReq(reqs, "GET", "agentevent")
	if !ok || poll.Guid != h.f.guids[0] {
		t.Errorf("poll did not carry the sign-in guid")
	}
}

func TestSignInWrongPasswordAndUnknownAgent(t *testing.T) {
	h := newHarness(t, false, func(c *Config) {
		c.Agents["bob"] = Agent{WorkNo: testWorkNo, Password: "nope", PhoneNumber: testPhone}
	})
	_, err := h.a.SignIn(context.Background(), "bob", gateway.SignInOptions{}, func(gateway.Event) {})
	if gateway.CodeOf(err) != gateway.CodeUnknownAgent {
		t.Errorf("wrong password: %v", err)
	}
	_, err = h.a.SignIn(context.Background(), "carol", gateway.SignInOptions{}, func(gateway.Event) {})
	if gateway.CodeOf(err) != gateway.CodeUnknownAgent {
		t.Errorf("unknown agent: %v", err)
	}
}

func TestGuidRotationFollowed(t *testing.T) {
	h := newHarness(t, false, nil)
	s := h.signIn(t, gateway.SignInOptions{})
	h.ev.next(t)
	h.f.mu.Lock()
	h.f.rotate = true
	h.f.mu.Unlock()
	h.f.push(rawEvent("AgentState_Ready", "null"), rawEvent("AgentState_SetNotReady_Success", `{"reason":"201"}`))
	h.ev.until(t, func(e gateway.Event) bool { return e.Reason == "201" })
	if len(h.f.guids) != 2 {
		t.Fatalf("guids issued: %d", len(h.f.guids))
	}
	// The fake refuses the old guid, so this only works with the new one.
	if err := s.Do(context.Background(), gateway.Command{Op: gateway.OpReady}); err != nil {
		t.Fatalf("Do after rotation: %v", err)
	}
	r, _ := findReq(h.f.requests(), "POST", "onlineagent/sayfree")
	if r.Guid != h.f.guids[1] {
		t.Errorf("command used a stale guid")
	}
}

func TestAlreadySignedIn(t *testing.T) {
	h := newHarness(t, false, nil)
	h.f.mu.Lock()
	h.f.signedIn, h.f.guid = true, h.f.newGuid()
	h.f.mu.Unlock()

	_, err := h.a.SignIn(context.Background(), "alice", gateway.SignInOptions{}, func(gateway.Event) {})
	var ge *gateway.Error
	if !errors.As(err, &ge) || ge.Code != gateway.CodeSignedInElse || !strings.Contains(ge.Message, "force") || !strings.Contains(ge.Message, "强制签入") {
		t.Fatalf("without force: %v", err)
	}
	if _, ok := findReq(h.f.requests(), "PUT", "onlineagent/forcelogin"); ok {
		t.Fatal("forcelogin without Force")
	}
	s := h.signIn(t, gateway.SignInOptions{Force: true})
	if _, ok := findReq(h.f.requests(), "PUT", "onlineagent/forcelogin"); !ok {
		t.Fatal("no forcelogin with Force")
	}
	if err := s.Do(context.Background(), gateway.Command{Op: gateway.OpHold}); err != nil {
		t.Errorf("Do after forcelogin: %v", err)
	}
}

func TestEventMapping(t *testing.T) {
	h := newHarness(t, false, nil)
	h.signIn(t, gateway.SignInOptions{})
	h.ev.next(t)
	h.f.push(
		rawEvent("AgentState_Ready", "null"), // dropped: part of the sign-in sequence
		rawEvent("AgentState_CancelNotReady_Success", "null"),
		rawEvent("AgentEvent_Incoming_CallInfo", `{"callId":"1669951418-12166","skillName":"voiceSkill","skillId":1,"caller":"88880165","called":"310300","lastReleaseAgentId":65535,"mediaType":5,"releaseAndReQueueCount":0,"releaseAndReQueueCallFlag":0}`),
		rawEvent("AgentOther_PhoneAlerting", "null"),
		rawEvent("AgentEvent_Ringing", `{"caller":"88880165","transfer":"no","callid":"1669951418-12166","transfrom":"","called":"310300","type":"main","mediaAbility":"1","feature":"0"}`),
		rawEvent("AgentState_Busy", "null"),
		rawEvent("AgentEvent_Talking", `{"caller":"88880165","callid":"1669951418-12166","called":"310300","feature":"0","type":"main","mediaAbility":"1","jsonKey":["caller"]}`),
		rawEvent("AgentEvent_Hold", `"1669951418-12166"`),
		rawEvent("AgentEvent_Talking", `{"caller":"88880165","callid":"1669951418-12166","called":"310300","feature":0,"type":"main","mediaAbility":1}`),
		rawEvent("AgentEvent_Customer_Release", `{"callid":"1669951418-12166","number":"88880165"}`),
		rawEvent("AgentEvent_Call_Release", `"1669951418-12166"`),
		rawEvent("AgentState_Work", "null"),
		rawEvent("AgentState_CancelWork_Success", "null"),
		rawEvent("AgentState_SetRest_Success", `{"reason":"10"}`),
		rawEvent("AgentEvent_Brand_New_Thing", `{"x":1}`),
		rawEvent("AgentState_SetNotReady_Success", `{"reason":"201"}`),
	)
	type want struct {
		typ    gateway.EventType
		state  gateway.AgentState
		reason string
		call   string // call state
		cause  string
		code   string
	}
	wants := []want{
		{typ: gateway.EvAgentState, state: gateway.StateReady},
		{typ: gateway.EvCallIncoming, call: "ringing"},
		{typ: gateway.EvNotice, code: "AgentOther_PhoneAlerting"},
		{typ: gateway.EvCallRinging, call: "ringing"},
		{typ: gateway.EvAgentState, state: gateway.StateBusy},
		{typ: gateway.EvCallAnswered, call: "talking"},
		{typ: gateway.EvCallHeld, call: "held"},
		{typ: gateway.EvCallResumed, call: "talking"},
		{typ: gateway.EvCallEnded, cause: "remote_hangup"},
		{typ: gateway.EvAgentState, state: gateway.StateWrapUp},
		{typ: gateway.EvAgentState, state: gateway.StateReady},
		{typ: gateway.EvAgentState, state: gateway.StateRest, reason: "10"},
		{typ: gateway.EvNotice, code: "AgentEvent_Brand_New_Thing"},
		{typ: gateway.EvAgentState, state: gateway.StateNotReady, reason: "201"},
	}
	for i, w := range wants {
		ev := h.ev.next(t)
		if ev.Type != w.typ || ev.State != w.state || ev.Reason != w.reason || ev.Cause != w.cause || ev.Code != w.code {
			t.Fatalf("event %d: got %+v, want %+v", i, ev, w)
		}
		if w.call != "" && (ev.Call == nil || ev.Call.State != w.call || ev.Call.ID != "1669951418-12166") {
			t.Fatalf("event %d: call %+v", i, ev.Call)
		}
		if ev.Type == gateway.EvCallIncoming && (ev.Call.Caller != "88880165" || ev.Call.Queue != "voiceSkill" || ev.Call.Direction != "inbound") {
			t.Fatalf("incoming call %+v", ev.Call)
		}
	}
	if !strings.Contains(h.log.String(), "AgentEvent_Brand_New_Thing") {
		t.Error("unknown event not logged at debug")
	}
}

func TestPollBackoffAfterNon200(t *testing.T) {
	h := newHarness(t, true, nil)
	h.f.pollPlan = []reply{{Status: 503}}
	h.signIn(t, gateway.SignInOptions{})
	if n := <-h.f.pollSeen; n != 1 {
		t.Fatalf("poll %d", n)
	}
	tr := <-h.clk.timers
	if tr.d < time.Second {
		t.Fatalf("pause after HTTP 503 = %v, want >= 1s", tr.d)
	}
	select {
	case n := <-h.f.pollSeen:
		t.Fatalf("poll %d before the back-off elapsed", n)
	default:
	}
	h.f.push(rawEvent("AgentState_Ready", "null")) // so the next poll answers at once
	tr.fire <- time.Time{}
	if n := <-h.f.pollSeen; n != 2 {
		t.Fatalf("poll %d", n)
	}
	// A successful (empty) poll is followed by the 200-500 ms gap.
	tr = <-h.clk.timers
	if tr.d < 200*time.Millisecond || tr.d > 500*time.Millisecond {
		t.Fatalf("gap after a 200 = %v", tr.d)
	}
	tr.fire <- time.Time{}
	<-h.f.pollSeen
}

func TestStopOn100006(t *testing.T) {
	h := newHarness(t, false, nil)
	h.f.pollPlan = []reply{{Retcode: "100-006"}}
	s := h.signIn(t, gateway.SignInOptions{})
	h.ev.next(t)
	n := h.ev.next(t)
	if n.Type != gateway.EvNotice || n.Code != string(gateway.CodeSessionLost) || !strings.Contains(n.Message, "100-006") {
		t.Fatalf("notice %+v", n)
	}
	if ev := h.ev.next(t); ev.State != gateway.StateSignedOut {
		t.Fatalf("state %+v", ev)
	}
	<-s.(*session).done // the loop has stopped
	if got := len(h.f.pollSeen); got != 1 {
		t.Errorf("%d polls in all, want only the one answered 100-006", got)
	}
	if err := s.Do(context.Background(), gateway.Command{Op: gateway.OpReady}); gateway.CodeOf(err) != gateway.CodeSessionLost {
		t.Errorf("Do after sign-out: %v", err)
	}
}

func TestShutdownServiceStops(t *testing.T) {
	h := newHarness(t, false, nil)
	s := h.signIn(t, gateway.SignInOptions{})
	h.ev.next(t)
	h.f.push(rawEvent("AgentOther_ShutdownService", `{"loginTime":"1471585949806"}`))
	if ev := h.ev.next(t); ev.Type != gateway.EvNotice || ev.Code != string(gateway.CodeSessionLost) {
		t.Fatalf("%+v", ev)
	}
	if ev := h.ev.next(t); ev.State != gateway.StateSignedOut {
		t.Fatalf("%+v", ev)
	}
	<-s.(*session).done
}

func TestCommandMapping(t *testing.T) {
	h := newHarness(t, false, nil)
	s := h.signIn(t, gateway.SignInOptions{})
	h.ev.next(t)
	h.f.setReply("PUT voicecall/callout", reply{Retcode: "0", Result: `"1455885056-1095"`})
	h.f.setReply("POST voicecall/innerhelp", reply{Retcode: "0", Result: `"1455885056-2000"`})
	ctx := context.Background()
	cases := []struct {
		cmd          gateway.Command
		method, path string
		query        url.Values
		body         map[string]any
	}{
		{cmd: gateway.Command{Op: gateway.OpReady}, method: "POST", path: "onlineagent/sayfree"},
		{cmd: gateway.Command{Op: gateway.OpNotReady, Reason: "201"}, method: "POST", path: "onlineagent/saybusy", query: url.Values{"reason": {"201"}, "prolong": {"true"}}},
		{cmd: gateway.Command{Op: gateway.OpRest, Reason: "10", Duration: 15 * time.Minute}, method: "POST", path: "onlineagent/rest/900/10"},
		{cmd: gateway.Command{Op: gateway.OpWrapUpDone}, method: "POST", path: "onlineagent/cancelwork"},
		{cmd: gateway.Command{Op: gateway.OpAnswer, CallID: "1-2"}, method: "PUT", path: "voicecall/answer", query: url.Values{"callid": {"1-2"}}},
		{cmd: gateway.Command{Op: gateway.OpReject, CallID: "1-2"}, method: "POST", path: "voicecall/reject", body: map[string]any{"callid": "1-2", "mode": float64(1)}},
		{cmd: gateway.Command{Op: gateway.OpHangup}, method: "DELETE", path: "voicecall/release"},
		{cmd: gateway.Command{Op: gateway.OpHangup, CallID: "9-9"}, method: "POST", path: "voicecall/dropcall/9-9"},
		{cmd: gateway.Command{Op: gateway.OpHold}, method: "POST", path: "voicecall/hold"},
		{cmd: gateway.Command{Op: gateway.OpResume, CallID: "1-2"}, method: "POST", path: "voicecall/gethold", query: url.Values{"callid": {"1-2"}}},
		{cmd: gateway.Command{Op: gateway.OpMute}, method: "POST", path: "voicecall/beginmute"},
		{cmd: gateway.Command{Op: gateway.OpUnmute}, method: "POST", path: "voicecall/endmute"},
		{cmd: gateway.Command{Op: gateway.OpDTMF, Digits: "12#"}, method: "POST", path: "voicecall/seconddial", query: url.Values{"number": {"12#"}}},
		{cmd: gateway.Command{Op: gateway.OpTransfer, Target: gateway.Target{Kind: gateway.TargetQueue, ID: "25"}}, method: "POST", path: "voicecall/transfer", body: map[string]any{"devicetype": float64(1), "address": "25", "mode": float64(2)}},
		{cmd: gateway.Command{Op: gateway.OpTransfer, Target: gateway.Target{Kind: gateway.TargetNumber, ID: "13800000000"}}, method: "POST", path: "voicecall/transfer", body: map[string]any{"devicetype": float64(5), "address": "13800000000", "mode": float64(2)}},
		{cmd: gateway.Command{Op: gateway.OpConsult, Target: gateway.Target{Kind: gateway.TargetAgent, ID: "49997"}}, method: "POST", path: "voicecall/innerhelp", body: map[string]any{"dstaddress": "49997", "devicetype": float64(2), "mode": float64(1), "holdflag": true}},
		{cmd: gateway.Command{Op: gateway.OpCompleteTransfer}, method: "POST", path: "voicecall/transfer", body: map[string]any{"devicetype": float64(2), "address": "49997", "mode": float64(0)}},
		{cmd: gateway.Command{Op: gateway.OpCancelConsult}, method: "POST", path: "voicecall/disconnect/49997"},
		{cmd: gateway.Command{Op: gateway.OpConference, CallID: "1-2"}, method: "POST", path: "voicecall/confjoin", body: map[string]any{"callid": "1-2", "callappdata": ""}},
		{cmd: gateway.Command{Op: gateway.OpDial, Target: gateway.Target{Kind: gateway.TargetNumber, ID: "40040"}}, method: "PUT", path: "voicecall/callout", body: map[string]any{"called": "40040"}},
		{cmd: gateway.Command{Op: gateway.OpDial, Target: gateway.Target{Kind: gateway.TargetAgent, ID: "292"}}, method: "PUT", path: "voicecall/callinner", body: map[string]any{"called": "292"}},
	}
	for _, tc := range cases {
		if err := s.Do(ctx, tc.cmd); err != nil {
			t.Fatalf("%s: %v", tc.cmd.Op, err)
		}
		reqs := h.f.requests()
		got := reqs[len(reqs)-1]
		if got.Path == "agentevent" {
			got, _ = findReq(reqs, tc.method, tc.path)
		}
		if got.Method != tc.method || got.Path != tc.path {
			t.Errorf("%s: sent %s %s, want %s %s", tc.cmd.Op, got.Method, got.Path, tc.method, tc.path)
			continue
		}
		if q, _ := url.ParseQuery(got.Query); tc.query != nil && q.Encode() != tc.query.Encode() {
			t.Errorf("%s: query %s", tc.cmd.Op, got.Query)
		}
		if tc.body != nil {
			a, _ := json.Marshal(got.Body)
			b, _ := json.Marshal(tc.body)
			if string(a) != string(b) {
				t.Errorf("%s: body %s, want %s", tc.cmd.Op, a, b)
			}
		}
		if got.Guid != h.f.currentGuid() {
			t.Errorf("%s: no valid Guid", tc.cmd.Op)
		}
		if tc.cmd.Op == gateway.OpNotReady {
			// The state the prolong flag depended on: saybusy while not ready.
			continue
		}
	}
	// mute/unmute and DTMF produce their own events.
	seen := map[gateway.EventType]bool{}
	for len(seen) < 3 {
		ev := h.ev.next(t)
		seen[ev.Type] = seen[ev.Type] || ev.Type == gateway.EvCallMuted || ev.Type == gateway.EvCallUnmuted || (ev.Type == gateway.EvDTMF && ev.Digits == "12#")
		if !seen[ev.Type] {
			delete(seen, ev.Type)
		}
	}
	// Refused locally, never sent.
	bad := []gateway.Command{
		{Op: gateway.OpNotReady, Reason: "199"},
		{Op: gateway.OpDTMF, Digits: "12a"},
		{Op: gateway.OpDial, Target: gateway.Target{Kind: gateway.TargetNumber, ID: "+49"}},
		{Op: gateway.OpRest, Duration: 25 * time.Hour},
	}
	for _, c := range bad {
		if err := s.Do(ctx, c); gateway.CodeOf(err) != gateway.CodeBadRequest {
			t.Errorf("%+v: %v", c, err)
		}
	}
	if err := s.Do(ctx, gateway.Command{Op: gateway.OpConsult, Target: gateway.Target{Kind: gateway.TargetNumber, ID: "1"}}); gateway.CodeOf(err) != gateway.CodeUnsupported {
		t.Errorf("consult number: %v", err)
	}
	if err := s.Do(ctx, gateway.Command{Op: "fly"}); gateway.CodeOf(err) != gateway.CodeUnsupported {
		t.Errorf("unknown op: %v", err)
	}
	if err := s.Do(ctx, gateway.Command{Op: gateway.OpReconnectMedia}); gateway.CodeOf(err) != gateway.CodeUnsupported {
		t.Errorf("reconnect_media: %v", err)
	}
}

func TestStateDependentCommands(t *testing.T) {
	h := newHarness(t, false, nil)
	s := h.signIn(t, gateway.SignInOptions{})
	h.ev.next(t)
	h.f.push(rawEvent("AgentState_SetRest_Success", `{"reason":"10"}`))
	h.ev.until(t, func(e gateway.Event) bool { return e.State == gateway.StateRest })
	if err := s.Do(context.Background(), gateway.Command{Op: gateway.OpReady}); err != nil {
		t.Fatal(err)
	}
	if _, ok := findReq(h.f.requests(), "POST", "onlineagent/cancelrest"); !ok {
		t.Error("ready while resting did not cancel the rest")
	}
	h.f.push(rawEvent("AgentState_CancelRest_Success", "null"))
	h.ev.until(t, func(e gateway.Event) bool { return e.State == gateway.StateReady })
	if err := s.Do(context.Background(), gateway.Command{Op: gateway.OpNotReady, Reason: "201"}); err != nil {
		t.Fatal(err)
	}
	r, _ := findReq(h.f.requests(), "POST", "onlineagent/saybusy")
	if r.Query != "reason=201" {
		t.Errorf("saybusy from ready: %s", r.Query)
	}
}

func TestErrorCodeMapping(t *testing.T) {
	h := newHarness(t, false, nil)
	s := h.signIn(t, gateway.SignInOptions{})
	h.ev.next(t)
	cases := []struct {
		rc   string
		code gateway.Code
		msg  string
	}{
		{"100-009", gateway.CodeNotAllowed, "not allowed in the current state / 当前状态不允许此操作"},
		{"200-013", gateway.CodeNoCall, "没有可操作的呼叫"},
		{"200-014", gateway.CodeNotAllowed, "当前呼叫状态不允许此操作"},
		{"999-002", gateway.CodeUnavailable, "overloaded"},
		{"000-002", gateway.CodeBadRequest, "invalid parameter"},
		{"000-003", gateway.CodeSessionLost, "sign in again"},
		{"123-456", gateway.CodeInternal, "refused"},
	}
	for _, tc := range cases {
		h.f.setReply("POST voicecall/hold", reply{Retcode: tc.rc, Result: "{}"})
		err := s.Do(context.Background(), gateway.Command{Op: gateway.OpHold})
		var ge *gateway.Error
		if !errors.As(err, &ge) || ge.Code != tc.code || !strings.Contains(ge.Message, tc.msg) || !strings.Contains(ge.Message, tc.rc) {
			t.Errorf("%s: %v", tc.rc, err)
		}
	}
	h.f.setReply("POST voicecall/hold", reply{Status: 500})
	if err := s.Do(context.Background(), gateway.Command{Op: gateway.OpHold}); gateway.CodeOf(err) != gateway.CodeUnavailable {
		t.Errorf("HTTP 500: %v", err)
	}
	if got := codeFor(retcodeTable(), "100-002", "sign-in"); got.Code != gateway.CodeSignedInElse {
		t.Errorf("100-002 -> %s", got.Code)
	}
}

func TestSnapshotAndClose(t *testing.T) {
	h := newHarness(t, false, nil)
	s := h.signIn(t, gateway.SignInOptions{})
	h.ev.next(t)
	h.f.setReply("GET onlineagent/agentstatus", reply{Retcode: "0", Result: `{"agentState":7,"isWorking":true}`})
	h.f.setReply("GET calldata/callinfo", reply{Retcode: "0", Result: `{"callfeature":7,"callid":"1476838963-224","caller":"70004","called":"60015","callskill":"voice","begintime":1476838963000,"endtime":null}`})
	snap, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if snap.State != gateway.StateBusy || len(snap.Calls) != 1 || snap.Calls[0].ID != "1476838963-224" || snap.Calls[0].Direction != "outbound" {
		t.Errorf("snapshot %+v", snap)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := findReq(h.f.requests(), "DELETE", "onlineagent/logout"); !ok {
		t.Error("no logout")
	}
	if ev := h.ev.until(t, func(e gateway.Event) bool { return e.Type == gateway.EvAgentState }); ev.State != gateway.StateSignedOut {
		t.Errorf("after Close: %+v", ev)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestConsultFlow(t *testing.T) {
	h := newHarness(t, false, nil)
	s := h.signIn(t, gateway.SignInOptions{})
	h.ev.next(t)
	h.f.setReply("POST voicecall/innerhelp", reply{Retcode: "0", Result: `"1-200"`})
	h.f.push(rawEvent("AgentEvent_Talking", `{"caller":"100","callid":"1-100","called":"200","feature":"0","type":"main"}`))
	h.ev.until(t, func(e gateway.Event) bool { return e.Type == gateway.EvCallAnswered })
	if err := s.Do(context.Background(), gateway.Command{Op: gateway.OpConsult, Target: gateway.Target{Kind: gateway.TargetAgent, ID: "49997"}}); err != nil {
		t.Fatal(err)
	}
	h.f.push(rawEvent("AgentEvent_Hold", `"1-100"`),
		rawEvent("AgentEvent_Customer_Alerting", `{"callid":"1-200","otherPhoneWorkno":"49997","otherPhone":"49997","type":"main"}`),
		rawEvent("AgentEvent_Talking", `{"caller":"291","callid":"1-200","called":"49997","feature":"51","type":"assistant"}`),
		rawEvent("AgentEvent_Conference", `{"callid":"1-100","partner":"49997, 70093"}`))
	for _, w := range []gateway.EventType{gateway.EvCallHeld, gateway.EvConsultStarted, gateway.EvConferenced} {
		if ev := h.ev.next(t); ev.Type != w {
			t.Fatalf("got %s, want %s", ev.Type, w)
		}
	}
}

// TestNoSecretsLeak runs a session through sign-in, rotation, commands,
// refusals, a forced sign-out and the C1/C2 clients, then scans the log
// and every event and error for the secrets.
func TestNoSecretsLeak(t *testing.T) {
	h := newHarness(t, false, nil)
	var errs []error
	h.f.mu.Lock()
	h.f.signedIn, h.f.guid = true, h.f.newGuid()
	h.f.mu.Unlock()
	_, err := h.a.SignIn(context.Background(), "alice", gateway.SignInOptions{}, func(gateway.Event) {})
	errs = append(errs, err)
	s := h.signIn(t, gateway.SignInOptions{Force: true})
	h.f.mu.Lock()
	h.f.rotate = true
	h.f.mu.Unlock()
	h.f.push(rawEvent("AgentState_Ready", "null"), rawEvent("AgentState_CancelNotReady_Success", "null"), rawEvent("Weird_Event", `"x"`))
	h.ev.until(t, func(e gateway.Event) bool { return e.Code == "Weird_Event" })
	ctx := context.Background()
	errs = append(errs, s.Do(ctx, gateway.Command{Op: gateway.OpReady}))
	h.f.setReply("POST voicecall/hold", reply{Retcode: "100-009", Result: "{}"})
	errs = append(errs, s.Do(ctx, gateway.Command{Op: gateway.OpHold}))
	h.f.setReply("POST voicecall/hold", reply{Status: 502})
	errs = append(errs, s.Do(ctx, gateway.Command{Op: gateway.OpHold}))
	_, err = s.Snapshot(ctx)
	errs = append(errs, err)
	h.f.mu.Lock()
	h.f.pollPlan = []reply{{Retcode: "000-003"}}
	h.f.mu.Unlock()
	h.f.push(rawEvent("AgentState_Ready", "null")) // wakes the held poll
	h.ev.until(t, func(e gateway.Event) bool { return e.State == gateway.StateSignedOut })
	errs = append(errs, s.Do(ctx, gateway.Command{Op: gateway.OpReady}), s.Close(ctx))

	// C2 with a wrong key and C1 against a refusing server.
	cms, _ := NewCMSClient(CMSConfig{BaseURL: "http://127.0.0.1:1", AK: "cms-ak-XYZ", SK: "cms-sk-XYZ"}, nil, nil, h.a.log)
	errs = append(errs, cms.Post(ctx, "/rest/cmsapp/v1/ping", map[string]string{}, nil))
	ts, _ := NewTokenSource(FabricConfig{BaseURL: "http://127.0.0.1:1", AK: "fab-ak-XYZ", SK: "fab-sk-XYZ"}, nil, nil, h.a.log)
	_, err = ts.Token(ctx)
	errs = append(errs, err)

	secrets := append([]string{testPassword, "cms-ak-XYZ", "cms-sk-XYZ", "fab-ak-XYZ", "fab-sk-XYZ"}, h.f.guids...)
	if len(h.f.guids) < 3 {
		t.Fatalf("scenario issued %d guids", len(h.f.guids))
	}
	var hay strings.Builder
	hay.WriteString(h.log.String())
	h.ev.mu.Lock()
	for _, ev := range h.ev.all {
		b, _ := json.Marshal(ev)
		hay.Write(b)
	}
	h.ev.mu.Unlock()
	for _, e := range errs {
		if e != nil {
			hay.WriteString(e.Error())
		}
	}
	all := hay.String()
	for _, sec := range secrets {
		if strings.Contains(all, sec) {
			t.Errorf("secret %q leaked", sec)
		}
		// The uuid part of a guid alone must not leak either.
		if i := strings.IndexByte(sec, '.'); i > 0 && strings.Contains(all, sec[:i]) {
			t.Errorf("guid uuid %q leaked", sec[:i])
		}
	}
	if !strings.Contains(all, "level=DEBUG") {
		t.Error("debug log not captured")
	}
}

func TestNewValidation(t *testing.T) {
	bad := []Config{
		{BaseURL: "ftp://x"},
		{BaseURL: "http://x", PollMinGap: 100 * time.Millisecond},
		{BaseURL: "http://x", Agents: map[string]Agent{"a": {WorkNo: "abc"}}},
		{BaseURL: "http://x", Reasons: []gateway.Reason{{Code: "150"}}},
		{BaseURL: "http://x", CMS: &CMSConfig{BaseURL: "http://y", AK: "a/b", SK: "s"}},
	}
	for i, c := range bad {
		if _, err := New(c); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
	a, err := New(Config{BaseURL: "http://x", ErrorBackoff: time.Millisecond})
	if err != nil || a.cfg.ErrorBackoff != time.Second {
		t.Errorf("ErrorBackoff not raised to 1s: %v", err)
	}
	if fmt := (Agent{WorkNo: "1", Password: "pw"}).String(); strings.Contains(fmt, "pw") {
		t.Error("Agent.String shows the password")
	}
}

func TestReady(t *testing.T) {
	h := newHarness(t, false, nil)
	if err := h.a.Ready(context.Background()); err != nil {
		t.Errorf("Ready: %v", err)
	}
	if got := h.a.Reasons(); len(got) != 2 || got[1].Rest != true {
		t.Errorf("Reasons %v", got)
	}
	a, _ := New(Config{BaseURL: "http://127.0.0.1:1", Logger: slog.New(slog.DiscardHandler)})
	if err := a.Ready(context.Background()); gateway.CodeOf(err) != gateway.CodeUnavailable {
		t.Errorf("Ready unreachable: %v", err)
	}
}
