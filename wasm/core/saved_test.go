package core

import (
	"strings"
	"testing"
	"time"
)

func TestSaved(t *testing.T) {
	s := Saved{Token: "jwt", Expires: t0.Add(time.Hour), Agent: "1001", Name: "Ann"}
	got, ok := ParseSaved(s.Encode())
	if !ok || got.Token != "jwt" || got.Agent != "1001" || got.Name != "Ann" || !got.Expires.Equal(s.Expires) {
		t.Fatalf("round trip: %+v %v", got, ok)
	}
	if strings.Contains(s.Encode(), "password") {
		t.Fatalf("saved session carries a password field: %s", s.Encode())
	}
	for _, bad := range []string{"", "  ", "{", `{"token":""}`, `{"token":"x"}`, `[]`} {
		if _, ok := ParseSaved(bad); ok {
			t.Errorf("ParseSaved(%q) ok", bad)
		}
	}
	if !s.Usable(t0) {
		t.Error("fresh token not usable")
	}
	if s.Usable(t0.Add(time.Hour - time.Second)) {
		t.Error("token about to expire usable")
	}
	if s.Usable(t0.Add(2 * time.Hour)) {
		t.Error("expired token usable")
	}
	if (Saved{Token: "x", Agent: "1"}).Usable(t0) != true {
		t.Error("token without expiry not usable")
	}
	for in, want := range map[string]uint64{"": 0, "41": 41, " 7 ": 7, "-1": 0, "x": 0} {
		if got := ParseSeq(in); got != want {
			t.Errorf("ParseSeq(%q) = %d, want %d", in, got, want)
		}
	}
}

// A reloaded bar starts from the saved seq: hello's snapshot holds the
// state, the events after the saved seq arrive once each as replayed, and
// the later ones fold.
func TestResumeFromSavedSeq(t *testing.T) {
	m := &Model{LastSeq: 41}
	snap := &Snapshot{State: StateBusy, Calls: []CallInfo{{ID: "c-1", State: CallTalking, Direction: "inbound"}}}
	m.Hello("1001", 43, snap, nil, t0)
	if m.LastSeq != 41 || m.Current() == nil || m.State != StateBusy {
		t.Fatalf("after hello: %+v", m)
	}
	ev := Event{Type: EvCallAnswered, Call: &CallInfo{ID: "c-1", State: CallTalking}}
	want := []Outcome{Duplicate, Replayed, Replayed, Duplicate, Folded}
	for i, seq := range []uint64{41, 42, 43, 43, 44} {
		if got := m.Apply(seq, ev, t0); got != want[i] {
			t.Errorf("seq %d: %v, want %v", seq, got, want[i])
		}
	}
	if m.LastSeq != 44 {
		t.Fatalf("LastSeq %d", m.LastSeq)
	}
}
