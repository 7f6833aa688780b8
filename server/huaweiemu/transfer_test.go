package huaweiemu

import (
	"encoding/json"
	"net/http"
	"testing"
)

// onCall registers phones for 291 and 292, signs 291 in ready and 292
// not ready, and puts a customer call on 291; it returns their Guids and
// the callid.
func (f *fixture) onCall() (g1, g2, callid string) {
	f.t.Helper()
	f.newPhone("291")
	f.newPhone("292")
	g1 = f.signIn("291", "pw291", "40038", nil)
	g2 = f.signIn("292", "pw292", "292", map[string]any{"status": "3"})
	f.drain("291", g1)
	f.drain("292", g2)
	if _, err := f.cc.PlaceCall("support", "+15550100", nil); err != nil {
		f.t.Fatal(err)
	}
	var talking struct{ Callid string }
	if err := json.Unmarshal(f.until("291", g1, eventTalking), &talking); err != nil || talking.Callid == "" {
		f.t.Fatalf("talking: %v", err)
	}
	return g1, g2, talking.Callid
}

// content decodes an event content object.
func content(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("content %s: %v", raw, err)
	}
	return m
}

// TestSuccessTransfer: a success transfer to an agent who cannot take the
// call yet reports result 1 and leaves the call with the agent; once the
// target is ready it reports result 0 before the release, without a
// customer release, and the target's phone gets the call.
func TestSuccessTransfer(t *testing.T) {
	f := newFixture(t, nil)
	g1, g2, callid := f.onCall()
	transfer := map[string]any{"devicetype": 2, "mode": 2, "address": "292"}
	f.expect(f.call(http.MethodPost, "voicecall/291/transfer", g1, transfer), "0", "success transfer to a busy agent")
	if c := content(t, f.next("291", g1, eventSuccTransResult)); c["result"] != float64(1) || c["callId"] != callid {
		t.Fatalf("refused transfer: %v", c)
	}
	if st := agentState(f, "291", g1); st != 7 {
		t.Fatalf("291 after the refused transfer: state %d, want 7 (talking)", st)
	}

	f.expect(f.call(http.MethodPost, "onlineagent/292/sayfree", g2, nil), "0", "292 ready")
	f.expect(f.call(http.MethodPost, "voicecall/291/transfer", g1, transfer), "0", "success transfer")
	if c := content(t, f.next("291", g1, eventSuccTransResult)); c["result"] != float64(0) || c["callId"] != callid {
		t.Fatalf("transfer result: %v", c)
	}
	f.next("291", g1, eventCallRelease)
	if c := content(t, f.next("291", g1, eventPhoneRelease)); c["phoneState"] != float64(2) {
		t.Fatalf("phone release: %v", c)
	}
	f.until("292", g2, eventTalking)
	if st := agentState(f, "292", g2); st != 7 {
		t.Fatalf("292 after the transfer: state %d, want 7", st)
	}
}

// TestTalkTransfer: the target's answer is AgentEvent_Talking with the
// target as called party; the agent's release hands the customer over.
// A release transfer back to the skill then queues the call, and the
// modes the call center cannot carry out are refused with 000-002.
func TestTalkTransfer(t *testing.T) {
	f := newFixture(t, nil)
	g1, g2, callid := f.onCall()
	f.expect(f.call(http.MethodPost, "onlineagent/292/sayfree", g2, nil), "0", "292 ready")
	f.drain("292", g2)
	for _, bad := range []map[string]any{
		{"devicetype": 5, "mode": 3, "address": "40040"},
		{"devicetype": 5, "mode": 4, "address": "40040"},
		{"devicetype": 4, "mode": 2, "address": "800"},
		{"devicetype": 2, "mode": 1, "address": "292"},
	} {
		f.expect(f.call(http.MethodPost, "voicecall/291/transfer", g1, bad), "000-002", "unsupported transfer")
	}
	f.expect(f.call(http.MethodPost, "voicecall/291/transfer", g1, map[string]any{"devicetype": 2, "mode": 3, "address": "292"}), "0", "talk transfer")
	if c := content(t, f.next("291", g1, eventTalking)); c["called"] != "292" || c["callid"] != callid {
		t.Fatalf("talking with the target: %v", c)
	}
	f.expect(f.call(http.MethodDelete, "voicecall/291/release", g1, nil), "0", "release")
	if typ := f.next("291", g1, eventCallRelease); string(typ) != `"`+callid+`"` {
		t.Fatalf("call release %s", typ)
	}
	f.next("291", g1, eventPhoneRelease)
	if st := agentState(f, "292", g2); st != 7 {
		t.Fatalf("292 after the talk transfer: state %d, want 7", st)
	}

	// 292 sends the customer back to skill 1 ("support"), where nobody is ready.
	f.expect(f.call(http.MethodPost, "voicecall/292/transfer", g2, map[string]any{"devicetype": 1, "mode": 0, "address": "1"}), "0", "release transfer to the skill")
	f.until("292", g2, eventCallRelease)
	if st := f.cc.Stats(); st.Waiting != 1 {
		t.Fatalf("calls waiting after the transfer to the skill: %d", st.Waiting)
	}
}
