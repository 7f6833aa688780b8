package huawei

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// Seed examples of the CallInfo answers (the result objects).
const (
	// callinfo, 6.1.3.1, seed line 12236-12290. The seed's example breaks
	// across a page with a stray comma after deviceNo; joined, without it.
	seedCallInfo = `{"callfeature":0,"callid":"1476838963-224","caller":"70004","called":"60015","callskill":"voice","callskillid":20011,"orgicallednum":"","calldata":"","begintime":1476838963000,"endtime":null,"userPriority":0,"trunkNo":65535,"logontimes":0,"mediaType":5,"mediaAbility":1,"waitTime":0,"trace":{"waitBeginTime":1626179227000,"waitEndTime":1626179227000,"answerBeginTime":1626179227000,"answerEndTime":1626179227000,"talkBeginTime":1626179227000,"talkEndTime":1626179227000,"deviceNo":2005,"deviceType":2,"callDirectMode":"NORMAL_DIRECT","enterReason":0,"enterReasonDesc":"Normal reason","leaveReason":0,"leaveReasonDesc":"Normal reason","vdnId":214}}`
	// callinbeforeanswer, 6.1.3.5, seed line 12686-12710 (orgcallednum
	// spelt so, trace null).
	seedCallInBeforeAnswer = `{"callfeature":0,"callid":"1476070409-38","caller":"70001","called":"10086","callskill":"voice_jst","callskillid":3,"orgcallednum":"12345678","calldata":"","begintime":1476070413000,"endtime":null,"userPriority":0,"trunkNo":65535,"logontimes":0,"mediaType":5,"mediaAbility":1,"waitTime":0,"trace":null}`
	// callinfobycallid, 6.1.3.6, seed line 12812-12836 (broken across a
	// page with a stray "}" after callfeature; joined, without it).
	seedCallInfoByCallID = `{"callfeature":0,"callid":"1476070409-38","caller":"70001","called":"10086","callskill":"voice_jst","callskillid":3,"orgcallednum":"12345678","calldata":"","begintime":1476070413000,"endtime":null,"userPriority":0,"trunkNo":65535,"logontimes":0,"mediaType":5,"mediaAbility":1,"waitTime":0,"trace":null}`
)

// TestCallInfoSeedExamples decodes the seed's CallInfo examples, with the
// seed's empty calldata and with call data put in.
func TestCallInfoSeedExamples(t *testing.T) {
	cases := []struct {
		name, raw                 string
		id, caller, called, queue string
		data                      map[string]string
		beginMs                   int64
	}{
		{"callinfo", seedCallInfo, "1476838963-224", "70004", "60015", "voice", map[string]string{"skillId": "20011", "mediaType": "5"}, 1476838963000},
		{"callinbeforeanswer", seedCallInBeforeAnswer, "1476070409-38", "70001", "10086", "voice_jst", map[string]string{"skillId": "3", "mediaType": "5"}, 1476070413000},
		{"callinfobycallid", seedCallInfoByCallID, "1476070409-38", "70001", "10086", "voice_jst", map[string]string{"skillId": "3", "mediaType": "5"}, 1476070413000},
		// The documented types: caller and called int (table 6-202).
		{"numbers", `{"callfeature":"0","callid":"1-2","caller":70004,"called":60015,"callskill":"voice","callskillid":"0","calldata":"1234","begintime":"1476838963000","mediaType":"5"}`, "1-2", "70004", "60015", "voice", map[string]string{"mediaType": "5", "calldata": "1234"}, 1476838963000},
	}
	for _, tc := range cases {
		var ci callInfoResult
		if err := json.Unmarshal([]byte(tc.raw), &ci); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		c := callFromInfo(ci)
		if c.ID != tc.id || c.Caller != tc.caller || c.Callee != tc.called || c.Queue != tc.queue || c.Direction != "inbound" ||
			!maps.Equal(c.Data, tc.data) || c.Since.UnixMilli() != tc.beginMs {
			t.Errorf("%s: %+v", tc.name, c)
		}
	}
	// With call data in the seed's example.
	withData := strings.Replace(seedCallInfoByCallID, `"calldata":""`, `"calldata":"{\"order\":\"A-17\",\"skillId\":\"x\"}"`, 1)
	var ci callInfoResult
	if err := json.Unmarshal([]byte(withData), &ci); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"order": "A-17", "skillId": "3", "mediaType": "5"} // the skill's id wins
	if c := callFromInfo(ci); !maps.Equal(c.Data, want) {
		t.Errorf("with call data: %v, want %v", c.Data, want)
	}
}

// TestCallDataDecoding reads calldata strings as the seed shows them.
func TestCallDataDecoding(t *testing.T) {
	cases := []struct {
		name, raw string // raw: the calldata field's JSON
		want      map[string]string
	}{
		{"empty (callinfo example, line 12259)", `""`, nil},
		{"null (holdlist example, line 12574)", `null`, nil},
		{"appdata example, line 12365", `"1234"`, map[string]string{"calldata": "1234"}},
		{"setcalldataex example, line 12459", `"1233"`, map[string]string{"calldata": "1233"}},
		{"JSON, line 25631", `"{\"fullName\": \"林子航\" , \"date\": \"二零二二年三月三十一日\" , \"riskName\": \"交强险\"}"`,
			map[string]string{"fullName": "林子航", "date": "二零二二年三月三十一日", "riskName": "交强险"}},
		{"nested JSON, line 26361", `"{\"iSales\":{\"ServiceID\":\"1164541685\",\"fullName\":\"林子航\",\"date\":\"二零二二年三月三十一日\",\"riskName\":\"交强险\"}}"`,
			map[string]string{"iSales.ServiceID": "1164541685", "iSales.fullName": "林子航", "iSales.date": "二零二二年三月三十一日", "iSales.riskName": "交强险"}},
		{"JSON scalars, line 18308", `"{\"nlpFlag\": true, \"flowAccessCode\": 1001, \"callBackUrl\": \"https://x/cb\", \"none\": null, \"list\": [1, \"a\"]}"`,
			map[string]string{"nlpFlag": "true", "flowAccessCode": "1001", "callBackUrl": "https://x/cb", "none": "", "list": `[1,"a"]`}},
		{"not JSON, line 25478", `"{fullName:\"林子航\", \"date\": \"二零二二年三月三十一日\"}"`,
			map[string]string{"calldata": `{fullName:"林子航", "date": "二零二二年三月三十一日"}`}},
		{"key=value text", `"order=A-17&vip=1"`, map[string]string{"calldata": "order=A-17&vip=1"}},
		{"an object in place of the string", `{"order":"A-17","n":4}`, map[string]string{"order": "A-17", "n": "4"}},
		{"a number in place of the string", `4`, map[string]string{"calldata": "4"}},
	}
	for _, tc := range cases {
		var d callDataMap
		if err := json.Unmarshal([]byte(tc.raw), &d); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !maps.Equal(d, callDataMap(tc.want)) || (tc.want == nil) != (d == nil) {
			t.Errorf("%s: %v, want %v", tc.name, d, tc.want)
		}
	}
}

// ringingSeed is AgentEvent_Ringing as the seed shows it (line 19686).
const ringingSeed = `{"caller":"49997","transfer":"no","callid":"1456404043-37","transfrom":"","called":"49999","type":"main","mediaAbility":"1","feature":"0"}`

// TestCallDataOnRinging: without AgentEvent_Incoming_CallInfo (it needs a
// CTI setting), the ringing event waits for callinfobycallid and brings
// the data and the skill to the bar; the call is read once, with the
// session's Guid, and the data stays on the call.
func TestCallDataOnRinging(t *testing.T) {
	h := newHarness(t, false, func(c *Config) { c.ManualAnswer = true })
	s := h.signIn(t, gateway.SignInOptions{})
	h.ev.next(t)
	info := strings.NewReplacer(`"1476070409-38"`, `"1456404043-37"`, `"calldata":""`, `"calldata":"{\"order\":\"A-17\"}"`, `"70001"`, `"49997"`).Replace(seedCallInfoByCallID)
	h.f.setReply("GET calldata/callinfobycallid/1456404043-37", reply{Retcode: "0", Result: info})
	h.f.push(rawEvent("AgentOther_PhoneAlerting", "null"), rawEvent("AgentEvent_Ringing", ringingSeed),
		rawEvent("AgentEvent_Talking", `{"caller":"49997","callid":"1456404043-37","called":"49999","feature":"0","type":"main","mediaAbility":"1"}`))
	check := func(ev gateway.Event) {
		t.Helper()
		c := ev.Call
		if c == nil || c.ID != "1456404043-37" || c.Caller != "49997" || c.Callee != "49999" || c.Queue != "voice_jst" ||
			!maps.Equal(c.Data, map[string]string{"order": "A-17", "skillId": "3", "mediaType": "5"}) {
			t.Fatalf("%s: call %+v", ev.Type, c)
		}
	}
	check(h.ev.until(t, func(e gateway.Event) bool { return e.Type == gateway.EvCallRinging }))
	check(h.ev.until(t, func(e gateway.Event) bool { return e.Type == gateway.EvCallAnswered }))
	snap, err := s.Snapshot(context.Background())
	if err != nil || len(snap.Calls) != 1 {
		t.Fatalf("snapshot %+v %v", snap, err)
	}
	check(gateway.Event{Type: "snapshot", Call: &snap.Calls[0]})
	n := 0
	for _, r := range h.f.requests() {
		if strings.HasPrefix(r.Path, "calldata/") {
			n++
			if r.Method != "GET" || r.Path != "calldata/callinfobycallid/1456404043-37" || r.Guid != h.f.currentGuid() {
				t.Errorf("call data read as %s %s (Guid ok: %v)", r.Method, r.Path, r.Guid == h.f.currentGuid())
			}
		}
	}
	if n != 1 {
		t.Errorf("%d calldata queries, want 1", n)
	}
	if strings.Contains(h.log.String(), "A-17") {
		t.Error("call data in the log")
	}
}

// TestCallDataFallbackToCallInfo: when callinfobycallid is refused, the
// current call's callinfo gives the data, if it is the same call; when
// it is another call, the event goes without data and a debug log says
// why, with no data and no secret in it.
func TestCallDataFallbackToCallInfo(t *testing.T) {
	h := newHarness(t, false, nil)
	h.signIn(t, gateway.SignInOptions{})
	h.ev.next(t)
	h.f.setReply("GET calldata/callinfobycallid/1669951418-12166", reply{Retcode: "100-007", Result: "null"})
	cur := strings.NewReplacer(`"1476838963-224"`, `"1669951418-12166"`, `"calldata":""`, `"calldata":"{\"order\":\"A-17\"}"`).Replace(seedCallInfo)
	h.f.setReply("GET calldata/callinfo", reply{Retcode: "0", Result: cur})
	h.f.push(rawEvent("AgentEvent_Incoming_CallInfo", `{"callId":"1669951418-12166","skillName":"defaultVideoSkill","skillId":1,"caller":"88880165","called":"310300","lastReleaseAgentId":65535,"mediaType":19,"releaseAndReQueueCount":0,"releaseAndReQueueCallFlag":0}`))
	in := h.ev.until(t, func(e gateway.Event) bool { return e.Type == gateway.EvCallIncoming })
	want := map[string]string{"order": "A-17", "skillId": "1", "mediaType": "19"} // the event's skill and media type stay
	if c := in.Call; c.Caller != "88880165" || c.Queue != "defaultVideoSkill" || !maps.Equal(c.Data, want) {
		t.Fatalf("call.incoming %+v, want data %v", c, want)
	}
	if strings.Contains(h.log.String(), "call data not read") {
		t.Fatal("the fallback's success logged as a failure")
	}

	// Another call: callinfo names the first one.
	h.f.setReply("GET calldata/callinfobycallid/1669951418-12200", reply{Retcode: "100-007", Result: "null"})
	h.f.push(rawEvent("AgentEvent_Ringing", strings.ReplaceAll(ringingSeed, "1456404043-37", "1669951418-12200")))
	ring := h.ev.until(t, func(e gateway.Event) bool { return e.Type == gateway.EvCallRinging })
	if ring.Call.ID != "1669951418-12200" || ring.Call.Data != nil || ring.Call.Queue != "" {
		t.Fatalf("call.ringing of a call whose data could not be read: %+v", ring.Call)
	}
	log := h.log.String()
	if !strings.Contains(log, "level=DEBUG") || !strings.Contains(log, "call data not read") || !strings.Contains(log, "retcode 100-007") {
		t.Errorf("no debug log of the failed read:\n%s", log)
	}
	for _, sec := range append([]string{testPassword, "A-17"}, h.f.guids...) {
		if strings.Contains(log, sec) {
			t.Errorf("%.8s... in the log", sec)
		}
	}
}

// TestCallDataTimeout: a CC-Gateway that does not answer the call data
// queries holds the event no longer than CallDataTimeout; the event goes
// without the data and the events after it follow.
func TestCallDataTimeout(t *testing.T) {
	const bound = 300 * time.Millisecond
	h := newHarness(t, false, func(c *Config) { c.CallDataTimeout = bound })
	h.signIn(t, gateway.SignInOptions{})
	h.ev.next(t)
	h.f.setReply("GET calldata/callinfobycallid/1456404043-37", reply{Block: true})
	h.f.setReply("GET calldata/callinfo", reply{Block: true})
	start := time.Now()
	h.f.push(rawEvent("AgentEvent_Ringing", ringingSeed), rawEvent("AgentState_Busy", "null"))
	ring := h.ev.until(t, func(e gateway.Event) bool { return e.Type == gateway.EvCallRinging })
	took := time.Since(start)
	if ring.Call == nil || ring.Call.ID != "1456404043-37" || ring.Call.Caller != "49997" || ring.Call.Data != nil {
		t.Fatalf("call.ringing %+v", ring.Call)
	}
	if took < bound || took > bound+3*time.Second {
		t.Errorf("the event waited %v for its data, want about %v", took, bound)
	}
	if ev := h.ev.next(t); ev.State != gateway.StateBusy {
		t.Fatalf("after the ringing: %+v", ev)
	}
	if !strings.Contains(h.log.String(), "callinfobycallid: timed out") {
		t.Errorf("no debug log of the timeout:\n%s", h.log.String())
	}
	for _, r := range h.f.requests() {
		if r.Path == "calldata/callinfo" {
			t.Error("callinfo asked after the time was up")
		}
	}
}

// TestCallDataPaced: the call data query takes its turn within the flow
// control (5 queries in 2 s per agent): after five queries it waits.
func TestCallDataPaced(t *testing.T) {
	h := newHarness(t, false, nil)
	s := h.signIn(t, gateway.SignInOptions{})
	h.ev.next(t)
	for range queryBurst {
		if _, err := s.Snapshot(context.Background()); err != nil { // agentstatus: one query each
			t.Fatal(err)
		}
	}
	paced := func() bool {
		h.clk.mu.Lock()
		defer h.clk.mu.Unlock()
		for _, d := range h.clk.waits {
			if d == queryWindow {
				return true
			}
		}
		return false
	}
	if paced() {
		t.Fatal("paced before the sixth query")
	}
	h.f.push(rawEvent("AgentEvent_Ringing", ringingSeed))
	h.ev.until(t, func(e gateway.Event) bool { return e.Type == gateway.EvCallRinging })
	if _, ok := findReq(h.f.requests(), "GET", "calldata/callinfobycallid/1456404043-37"); !ok {
		t.Fatal("call data not asked")
	}
	if !paced() {
		t.Fatal("the call data query did not wait for the flow control")
	}
}
