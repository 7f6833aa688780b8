package huawei

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFlexString(t *testing.T) {
	var v struct {
		A, B, C, D, E flexString
	}
	if err := json.Unmarshal([]byte(`{"A":"4","B":4,"C":true,"D":null,"E":" 1.0 "}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.A != "4" || v.B != "4" || v.C != "true" || v.D != "" || v.E != "1.0" {
		t.Errorf("decoded %+v", v)
	}
	if n, ok := v.B.Int(); !ok || n != 4 {
		t.Errorf("Int = %d %v", n, ok)
	}
	if n, ok := v.E.Int(); !ok || n != 1 {
		t.Errorf("Int(1.0) = %d %v", n, ok)
	}
	if !v.C.Bool() || v.D.Bool() || !flexString("1").Bool() {
		t.Error("Bool")
	}
	var o flexString
	if err := json.Unmarshal([]byte(`{"x":1}`), &o); err == nil {
		t.Error("object decoded as scalar")
	}
}

// The payloads below are the seed's examples (OCR line breaks repaired).
func TestDecodeSeedExamples(t *testing.T) {
	// Sign-in response, seed line 6980-6992: vdnid is a number.
	var env envelope
	raw := `{"message":"","retcode":"0","result":{"vdnid":1,"workno":"291","mediatype":"TTF","loginTime":"1471585949806","isForceChange":"false","serverName":"AgentGateway","timeRemaining":"9"}}`
	if err := json.Unmarshal([]byte(raw), &env); err != nil {
		t.Fatal(err)
	}
	var si signInResult
	if err := json.Unmarshal(env.Result, &si); err != nil {
		t.Fatal(err)
	}
	if env.Retcode != "0" || si.VDNID != "1" || si.WorkNo != "291" || si.IsForceChange.Bool() || si.ServerName != "AgentGateway" {
		t.Errorf("sign-in %+v", si)
	}
	// agentstatus, table 6-74.
	var st agentStatusResult
	if err := json.Unmarshal([]byte(`{"agentState":4,"isWorking":false}`), &st); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.AgentState.Int(); n != 4 || st.IsWorking.Bool() {
		t.Errorf("agentstatus %+v", st)
	}
	// Event poll, seed line 13566-13574.
	if err := json.Unmarshal([]byte(`{"message":"","retcode":"0","event":{"eventType":"AgentOther_InService","workNo":"291","content":null}}`), &env); err != nil {
		t.Fatal(err)
	}
	var ev cecEvent
	if err := json.Unmarshal(env.Event, &ev); err != nil || ev.EventType != "AgentOther_InService" || ev.WorkNo != "291" {
		t.Fatalf("event %+v %v", ev, err)
	}
	// Event with serializer artefacts, seed line 19795.
	if err := json.Unmarshal([]byte(`{"eventType":"AgentEvent_MediaSwitth","workNo":"111","content":{"callId":"1603286369-16773","reason":0,"caller":"","mediaType":3,"called":"88022","jsonKey":["callid","reason","caller","mediaType","called"]},"jsonKey":["eventType","workNo","content"]}`), &ev); err != nil {
		t.Fatal(err)
	}
	c, err := decodeContent(ev.Content)
	if err != nil || c.id() != "1603286369-16773" || c.Reason != "0" || c.MediaType != "3" || c.Called != "88022" {
		t.Errorf("MediaSwitth %+v %v", c, err)
	}
	contents := map[string]func(callContent) bool{
		// AgentEvent_Talking, seed line 19462.
		`{"caller":"10086","callid":"1456401416-3","called":"70092","feature":"7","type":"main","mediaAbility":"1"}`: func(c callContent) bool {
			return c.id() == "1456401416-3" && c.Feature == "7" && c.Type == "main" && c.Caller == "10086"
		},
		// AgentEvent_Hold: a bare callid string.
		`"1456402370-7"`: func(c callContent) bool { return c.id() == "1456402370-7" },
		// AgentEvent_SuccTransResult: result is a number.
		`{"result":1,"callId":"1477467960-16777237"}`: func(c callContent) bool {
			return c.Result == "1" && c.id() == "1477467960-16777237"
		},
		// AgentEvent_Incoming_CallInfo: mixed number/string.
		`{"callId":"1669951418-12166","skillName":"defaultVideoSkill","skillId":1,"caller":"88880165","called":"310300","lastReleaseAgentId":65535,"mediaType":19,"releaseAndReQueueCount":0,"releaseAndReQueueCallFlag":0}`: func(c callContent) bool {
			return c.id() == "1669951418-12166" && c.SkillID == "1" && c.MediaType == "19" && c.SkillName == "defaultVideoSkill"
		},
		// AgentState_SetNotReady_Success.
		`{"reason":"200"}`: func(c callContent) bool { return c.Reason == "200" },
		// Agent_Recover.
		`{"agentStatus":"4"}`: func(c callContent) bool { return c.AgentStatus == "4" },
		`null`:                func(c callContent) bool { return c == callContent{} },
	}
	for in, ok := range contents {
		c, err := decodeContent(json.RawMessage(in))
		if err != nil || !ok(c) {
			t.Errorf("content %s -> %+v %v", in, c, err)
		}
	}
	// callinfo, seed line 12236 (trace trimmed): numbers and nulls mixed.
	var ci callInfoResult
	if err := json.Unmarshal([]byte(`{"callfeature":0,"callid":"1476838963-224","caller":"70004","called":"60015","callskill":"voice","callskillid":20011,"orgicallednum":"","calldata":"","begintime":1476838963000,"endtime":null,"userPriority":0,"trunkNo":65535,"logontimes":0,"mediaType":5,"mediaAbility":1,"waitTime":0,"trace":{"deviceNo":2005,"deviceType":2,"callDirectMode":"NORMAL_DIRECT"}}`), &ci); err != nil {
		t.Fatal(err)
	}
	call := callFromInfo(ci)
	if call.ID != "1476838963-224" || call.Direction != "inbound" || call.Caller != "70004" || call.Since.UnixMilli() != 1476838963000 {
		t.Errorf("callinfo %+v", call)
	}
	// callout result is a bare callid; callinner's example is {}.
	if decodeResultString(json.RawMessage(`"1455885056-1095"`)) != "1455885056-1095" || decodeResultString(json.RawMessage(`{}`)) != "" {
		t.Error("result string")
	}
}

func TestTokenSourceRefresh(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/apigovernance/api/oauth/tokenByAkSk" || r.Header.Get("X-Token-Expire") != "600" ||
			!strings.Contains(string(body), `"app_key":"fab-ak"`) || !strings.Contains(string(body), `"app_secret":"fab-sk"`) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		n++
		_, _ = io.WriteString(w, `{"AccessToken":"tok-`+string(rune('0'+n))+`","ApplyType":"Bearer","CreateTime":"1545650171","Expires":"600","Scope":"","AppKey":"fab-ak","UserID":"Anonymous"}`)
	}))
	defer srv.Close()
	ts, err := NewTokenSource(FabricConfig{BaseURL: srv.URL, AK: "fab-ak", SK: "fab-sk"}, srv.Client(), clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok, err := ts.Token(ctx)
	if err != nil || tok != "tok-1" {
		t.Fatalf("first token %q %v", tok, err)
	}
	advance(530 * time.Second) // 540 s = 600 s - 60 s margin not reached yet
	if tok, _ := ts.Token(ctx); tok != "tok-1" {
		t.Errorf("token refreshed too early: %q", tok)
	}
	advance(15 * time.Second) // past 540 s, still before the 600 s expiry
	if tok, _ := ts.Token(ctx); tok != "tok-2" {
		t.Errorf("token not refreshed before expiry: %q", tok)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	if err := ts.Authorize(ctx, req); err != nil || req.Header.Get("Authorization") != "Bearer tok-2" || req.Header.Get("x-app-key") != "fab-ak" {
		t.Errorf("Authorize: %v %v", req.Header, err)
	}
}
