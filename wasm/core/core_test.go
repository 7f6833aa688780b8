package core

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

func signedIn(state AgentState, calls ...Call) *Model {
	return &Model{Agent: "1001", State: state, Channel: LinkOpen, Phone: LinkOpen, Calls: calls}
}

func call(state, dir string) Call {
	return Call{CallInfo: CallInfo{ID: "c-1", State: state, Direction: dir, Caller: "+15550100"}}
}

func TestAllowed(t *testing.T) {
	muted := call(CallTalking, "inbound")
	muted.Muted = true
	phoneDown := signedIn(StateReady)
	phoneDown.Phone = LinkClosed
	ringingNoPhone := signedIn(StateBusy, call(CallRinging, "inbound"))
	ringingNoPhone.Phone = LinkConnecting
	channelDown := signedIn(StateReady)
	channelDown.Channel = LinkClosed
	sipOnly := signedIn(StateReady)
	sipOnly.PhoneRinging = true
	tests := []struct {
		name string
		m    *Model
		want []string
	}{
		{"signed out", &Model{Channel: LinkOpen}, nil},
		{"channel down", channelDown, nil},
		{"ready", signedIn(StateReady), []string{"not_ready", "dial", "sign_out"}},
		{"ready, phone down", phoneDown, []string{"not_ready", "sign_out"}},
		{"not ready", signedIn(StateNotReady), []string{"ready", "not_ready", "dial", "sign_out"}},
		{"rest", signedIn(StateRest), []string{"ready", "not_ready", "dial", "sign_out"}},
		{"wrap-up", signedIn(StateWrapUp), []string{"ready", "not_ready", "dial", "wrap_up_done", "sign_out"}},
		{"busy without a call yet", signedIn(StateBusy), []string{"sign_out"}},
		{"INVITE before the CTI event", sipOnly, []string{"not_ready", "answer", "reject", "dial", "sign_out"}},
		{"inbound ringing", signedIn(StateBusy, call(CallRinging, "inbound")), []string{"answer", "reject"}},
		{"inbound ringing, phone down", ringingNoPhone, []string{"reject"}},
		{"outbound ringing", signedIn(StateBusy, call(CallRinging, "outbound")), []string{"hangup"}},
		{"talking", signedIn(StateBusy, call(CallTalking, "inbound")), []string{"hangup", "hold", "mute", "dtmf", "transfer", "consult"}},
		{"talking muted", signedIn(StateBusy, muted), []string{"hangup", "hold", "unmute", "dtmf", "transfer", "consult"}},
		{"held", signedIn(StateBusy, call(CallHeld, "inbound")), []string{"hangup", "resume", "transfer", "consult"}},
		{"consulting", signedIn(StateBusy, call(CallConsulting, "inbound")), []string{"hangup", "mute", "dtmf", "complete_transfer", "cancel_consult", "conference"}},
		{"conference", signedIn(StateBusy, call(CallConference, "inbound")), []string{"hangup", "mute", "dtmf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.Allowed().Names(); !slices.Equal(got, tt.want) {
				t.Fatalf("allowed %v, want %v", got, tt.want)
			}
		})
	}
}

func ev(js string) Event {
	var e Event
	if err := json.Unmarshal([]byte(js), &e); err != nil {
		panic(err)
	}
	return e
}

func TestFold(t *testing.T) {
	type step struct {
		seq uint64
		ev  string
	}
	tests := []struct {
		name      string
		steps     []step
		state     AgentState
		reason    string
		callState string // "" = no call
		muted     bool
		caller    string
	}{
		{"ready", []step{{1, `{"type":"agent.state","state":"ready"}`}}, StateReady, "", "", false, ""},
		{"not ready with reason", []step{{1, `{"type":"agent.state","state":"not_ready","reason":"meeting"}`}}, StateNotReady, "meeting", "", false, ""},
		{"incoming rings", []step{
			{1, `{"type":"agent.state","state":"busy"}`},
			{2, `{"type":"call.incoming","call":{"id":"c-1","direction":"inbound","caller":"+15550100","queue":"support","state":"ringing"}}`},
		}, StateBusy, "", CallRinging, false, "+15550100"},
		{"answered keeps caller from a partial event", []step{
			{2, `{"type":"call.incoming","call":{"id":"c-1","caller":"+15550100","state":"ringing"}}`},
			{3, `{"type":"call.answered","call":{"id":"c-1","state":"talking"}}`},
		}, "", "", CallTalking, false, "+15550100"},
		{"held and resumed", []step{
			{3, `{"type":"call.answered","call":{"id":"c-1","state":"talking"}}`},
			{4, `{"type":"call.held","call":{"id":"c-1"}}`},
		}, "", "", CallHeld, false, ""},
		{"resume", []step{
			{4, `{"type":"call.held","call":{"id":"c-1","state":"held"}}`},
			{5, `{"type":"call.resumed","call":{"id":"c-1","state":"talking"}}`},
		}, "", "", CallTalking, false, ""},
		{"muted", []step{
			{3, `{"type":"call.answered","call":{"id":"c-1","state":"talking"}}`},
			{4, `{"type":"call.muted","call":{"id":"c-1","state":"talking"}}`},
		}, "", "", CallTalking, true, ""},
		{"unmuted", []step{
			{4, `{"type":"call.muted","call":{"id":"c-1","state":"talking"}}`},
			{5, `{"type":"call.unmuted","call":{"id":"c-1","state":"talking"}}`},
		}, "", "", CallTalking, false, ""},
		{"ended then wrap-up", []step{
			{3, `{"type":"call.answered","call":{"id":"c-1","state":"talking"}}`},
			{4, `{"type":"call.ended","call":{"id":"c-1","state":"ended"},"cause":"customer_hangup"}`},
			{5, `{"type":"agent.state","state":"wrap_up","deadline":"2026-11-21T09:00:30Z"}`},
		}, StateWrapUp, "", "", false, ""},
		{"duplicate ignored", []step{
			{5, `{"type":"agent.state","state":"ready"}`},
			{5, `{"type":"agent.state","state":"not_ready","reason":"lunch"}`},
			{4, `{"type":"agent.state","state":"rest"}`},
		}, StateReady, "", "", false, ""},
		{"notice unsequenced changes nothing", []step{
			{1, `{"type":"agent.state","state":"ready"}`},
			{0, `{"type":"session.notice","code":"token_expiring"}`},
		}, StateReady, "", "", false, ""},
		{"signed out drops calls", []step{
			{1, `{"type":"call.incoming","call":{"id":"c-1","state":"ringing"}}`},
			{2, `{"type":"agent.state","state":"signed_out"}`},
		}, StateSignedOut, "", "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Model{}
			for _, s := range tt.steps {
				m.Apply(s.seq, ev(s.ev), t0)
			}
			if m.State != tt.state || m.Reason != tt.reason {
				t.Fatalf("state %q/%q, want %q/%q", m.State, m.Reason, tt.state, tt.reason)
			}
			c := m.Current()
			switch {
			case tt.callState == "" && c != nil:
				t.Fatalf("call %+v, want none", *c)
			case tt.callState != "" && c == nil:
				t.Fatalf("no call, want %s", tt.callState)
			case c != nil && (c.State != tt.callState || c.Muted != tt.muted || (tt.caller != "" && c.Caller != tt.caller)):
				t.Fatalf("call %+v, want state %s muted %v caller %q", *c, tt.callState, tt.muted, tt.caller)
			}
		})
	}
}

func TestHelloAndResume(t *testing.T) {
	m := &Model{}
	snap := &Snapshot{State: StateBusy, Calls: []CallInfo{{ID: "c-1", State: CallTalking, Since: t0}}}
	m.Hello("1001", 10, snap, []Reason{{Code: "lunch", Label: "Lunch", Rest: true}}, t0)
	if m.LastSeq != 10 || m.Current() == nil || m.Current().Started != t0 {
		t.Fatalf("after a fresh hello: %+v", m)
	}
	if got := m.Apply(10, ev(`{"type":"agent.state","state":"ready"}`), t0); got != Duplicate {
		t.Fatalf("seq 10 again: %v", got)
	}
	if got := m.Apply(11, ev(`{"type":"call.muted","call":{"id":"c-1","state":"talking"}}`), t0); got != Folded {
		t.Fatalf("seq 11: %v", got)
	}
	// The channel drops at 11; meanwhile the call ended and wrap-up began
	// (12, 13). The reconnect resumes from 11; the hello snapshot already
	// has the wrap-up, so 12 and 13 are delivered but not folded again.
	m.Channel = LinkClosed
	m.Hello("1001", 13, &Snapshot{State: StateWrapUp}, nil, t0)
	if m.LastSeq != 11 {
		t.Fatalf("resume point %d, want 11", m.LastSeq)
	}
	for _, s := range []struct {
		seq  uint64
		js   string
		want Outcome
	}{
		{12, `{"type":"call.ended","call":{"id":"c-1","state":"ended"}}`, Replayed},
		{13, `{"type":"agent.state","state":"wrap_up"}`, Replayed},
		{13, `{"type":"agent.state","state":"wrap_up"}`, Duplicate},
		{14, `{"type":"agent.state","state":"ready"}`, Folded},
	} {
		if got := m.Apply(s.seq, ev(s.js), t0); got != s.want {
			t.Fatalf("seq %d: %v, want %v", s.seq, got, s.want)
		}
	}
	if m.State != StateReady || m.Current() != nil || m.LastSeq != 14 || len(m.Reasons) != 1 {
		t.Fatalf("after resume: %+v", m)
	}
	if m.NotReadyOp("lunch") != "rest" || m.NotReadyOp("meeting") != "not_ready" {
		t.Fatal("NotReadyOp")
	}
	// A server whose log restarted below our point: follow it.
	m.Hello("1001", 3, &Snapshot{State: StateNotReady}, nil, t0)
	if m.LastSeq != 3 || m.Apply(4, ev(`{"type":"agent.state","state":"ready"}`), t0) != Folded {
		t.Fatalf("after a log reset: %+v", m)
	}
}

func TestView(t *testing.T) {
	m := signedIn(StateBusy)
	m.Reasons = []Reason{{Code: "meeting", Label: "Meeting"}}
	m.Apply(1, ev(`{"type":"call.incoming","call":{"id":"c-1","direction":"inbound","caller":"+15550100","queue":"support","data":{"order":"A-17","b":"x"},"state":"ringing"}}`), t0)
	v := m.View(Messages(Chinese), t0)
	if v.Call == nil || !v.Call.Ringing || v.Call.StateLabel != "振铃" || v.Call.Timer != "" || v.StateLabel != "通话中" {
		t.Fatalf("ringing view %+v %+v", v, v.Call)
	}
	if len(v.Call.Data) != 2 || v.Call.Data[0] != [2]string{"b", "x"} {
		t.Fatalf("call data %v", v.Call.Data)
	}
	m.Apply(2, ev(`{"type":"call.answered","call":{"id":"c-1","state":"talking"}}`), t0.Add(5*time.Second))
	v = m.View(Messages(English), t0.Add(70*time.Second))
	if v.Call.Timer != "1:05" || v.Call.StateLabel != "Talking" || v.ChannelLabel != "connected" || v.PhoneLabel != "registered" {
		t.Fatalf("talking view %+v %+v", v, v.Call)
	}
	m.Apply(3, ev(`{"type":"call.ended","call":{"id":"c-1"}}`), t0)
	m.Apply(4, ev(`{"type":"agent.state","state":"wrap_up","deadline":"2026-11-21T09:00:30Z"}`), t0)
	if v = m.View(Messages(English), t0.Add(3*time.Second)); v.WrapUpLeft != "0:27" || v.Call != nil {
		t.Fatalf("wrap-up view %+v", v)
	}
	m.Apply(5, ev(`{"type":"agent.state","state":"not_ready","reason":"meeting"}`), t0)
	if v = m.View(Messages(English), t0); v.Reason != "Meeting" || v.StateLabel != "Not ready" {
		t.Fatalf("not ready view %+v", v)
	}
}

func TestMessages(t *testing.T) {
	en, zh := Messages(English), Messages(Chinese)
	if len(en) != len(catalog()) || len(zh) != len(en) {
		t.Fatalf("%d English, %d Chinese, %d in the catalog: duplicate ids?", len(en), len(zh), len(catalog()))
	}
	for id, s := range en {
		if s == "" || zh[id] == "" || zh[id] == s {
			t.Errorf("%s: %q / %q", id, s, zh[id])
		}
	}
	for _, tag := range []string{"zh", "zh-CN", "zh-TW"} {
		if ParseLang(tag) != Chinese {
			t.Errorf("ParseLang(%q) not Chinese", tag)
		}
	}
	if ParseLang("en-US") != English || ParseLang("") != English {
		t.Error("ParseLang default")
	}
}

func TestMOS(t *testing.T) {
	tests := []struct {
		rtt, jitter time.Duration
		loss        float64
		lo, hi      float64
	}{
		{0, 0, 0, 4.3, 4.5},
		{20 * time.Millisecond, 5 * time.Millisecond, 0, 4.3, 4.5},
		{300 * time.Millisecond, 30 * time.Millisecond, 0, 3.0, 3.9},
		{50 * time.Millisecond, 10 * time.Millisecond, 10, 3.0, 3.9},
		{2 * time.Second, time.Second, 50, 1, 1},
	}
	for _, tt := range tests {
		if got := MOS(tt.rtt, tt.jitter, tt.loss); got < tt.lo || got > tt.hi {
			t.Errorf("MOS(%v, %v, %v%%) = %.2f, want %.1f..%.1f", tt.rtt, tt.jitter, tt.loss, got, tt.lo, tt.hi)
		}
	}
	if MOS(100*time.Millisecond, 0, 0) <= MOS(400*time.Millisecond, 0, 0) {
		t.Error("MOS does not fall with latency")
	}
	if got := LossPercent(100, 0, 190, 10); got != 10 {
		t.Errorf("LossPercent = %v, want 10", got)
	}
	if got := LossPercent(100, 5, 200, 5); got != 0 {
		t.Errorf("LossPercent without new loss = %v", got)
	}
}

func TestBackoffAndDigits(t *testing.T) {
	for n, want := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second} {
		if got := Backoff(n, 500*time.Millisecond, 5*time.Second); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", n, got, want)
		}
	}
	for s, want := range map[string]bool{"42#": true, "*0ABCD": true, "": false, "12e": false, "a": false} {
		if ValidDigits(s) != want {
			t.Errorf("ValidDigits(%q) != %v", s, want)
		}
	}
	if Clock(3723*time.Second) != "1:02:03" {
		t.Error("Clock past an hour")
	}
}

func TestControlNames(t *testing.T) {
	if len(controlNames()) != bitsBefore(ctlEnd) {
		t.Fatalf("%d names for %d controls", len(controlNames()), bitsBefore(ctlEnd))
	}
	for _, n := range controlNames() {
		c, ok := ControlByName(n)
		if !ok || c.String() != n {
			t.Errorf("ControlByName(%q) = %v, %v", n, c, ok)
		}
	}
	if _, ok := ControlByName("fly"); ok {
		t.Error("unknown control found")
	}
}

func bitsBefore(c Control) int {
	n := 0
	for c > 1 {
		c >>= 1
		n++
	}
	return n
}

func TestConnectedCall(t *testing.T) {
	m := Model{Calls: []Call{{CallInfo: CallInfo{ID: "c-1", State: CallHeld}}, {CallInfo: CallInfo{ID: "c-2", State: CallRinging}}}}
	if c := m.Connected(); c == nil || c.ID != "c-1" {
		t.Errorf("Connected = %+v, want the held call c-1", c)
	}
	m = Model{Calls: []Call{{CallInfo: CallInfo{ID: "c-3", State: CallRinging}}}}
	if c := m.Connected(); c != nil {
		t.Errorf("Connected with only a ringing call = %+v, want none", c)
	}
}
