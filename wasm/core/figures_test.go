package core

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// A get_stats reply as the control channel carries it.
const statsReply = `{"type":"reply","id":"c9","ok":true,"stats":{"time":"2026-11-21T09:00:00Z",
 "queues":[{"id":"support","name":"Support","waiting":2,"longest_wait":45,"ready":3},{"id":"sales","waiting":0}],
 "agent":{"answered":5,"talk_time":750,"missed":1}}}`

func TestFiguresView(t *testing.T) {
	var r ServerMessage
	if err := json.Unmarshal([]byte(statsReply), &r); err != nil || r.Stats == nil {
		t.Fatalf("reply: %v %+v", err, r)
	}
	m := signedIn(StateReady)
	if v := m.View(Messages(English), t0); v.Figures != nil {
		t.Fatalf("figures before any reply: %+v", v.Figures)
	}
	m.SetFigures(r.Stats, t0)
	v := m.View(Messages(English), t0)
	want := []string{"Support: 2 waiting (longest 0:45), 3 ready", "sales: 0 waiting, 0 ready"}
	if v.Figures == nil || !slices.Equal(v.Figures.Queues, want) || v.Figures.Agent != "Answered 5 · Talk 12:30 · Missed 1" {
		t.Fatalf("English figures %+v", v.Figures)
	}
	// The longest wait keeps counting on the bar's clock until the next reply.
	v = m.View(Messages(Chinese), t0.Add(15500*time.Millisecond))
	if v.Figures.Queues[0] != "Support：2 人排队（最长 1:00），3 人空闲" || v.Figures.Agent != "已接 5 · 通话 12:30 · 未接 1" {
		t.Fatalf("Chinese figures 15 s later %+v", v.Figures)
	}

	// Outbound calls show once there are some; no agent figures, no agent line.
	m.SetFigures(&Stats{Agent: &AgentStats{Answered: 1, TalkTime: 3725, Outbound: 2}}, t0)
	if v = m.View(Messages(English), t0); v.Figures.Agent != "Answered 1 · Talk 1:02:05 · Missed 0 · Outbound 2" || len(v.Figures.Queues) != 0 {
		t.Fatalf("with outbound %+v", v.Figures)
	}
	m.SetFigures(&Stats{Queues: []QueueStats{{ID: "q", Waiting: 1}}}, t0)
	if v = m.View(Messages(English), t0); v.Figures.Agent != "" || v.Figures.Queues[0] != "q: 1 waiting (longest 0:00), 0 ready" {
		t.Fatalf("queues only %+v", v.Figures)
	}
	// A queue named like a placeholder is shown as named.
	m.SetFigures(&Stats{Queues: []QueueStats{{ID: "q", Name: "{ready} line"}}}, t0)
	if v = m.View(Messages(English), t0); v.Figures.Queues[0] != "{ready} line: 0 waiting, 0 ready" {
		t.Fatalf("placeholder in a name %+v", v.Figures)
	}
	m.SetFigures(&Stats{}, t0)
	if v = m.View(Messages(English), t0); v.Figures != nil {
		t.Fatalf("empty figures shown: %+v", v.Figures)
	}
	m.SetFigures(nil, t0) // a reply without stats keeps the last ones

	// unsupported: hidden for good, whatever arrives later.
	m.SetFigures(r.Stats, t0)
	m.FiguresUnsupported()
	m.SetFigures(r.Stats, t0)
	if v = m.View(Messages(English), t0); v.Figures != nil || !m.FiguresOff {
		t.Fatalf("figures after unsupported: %+v", v.Figures)
	}
	// Signed out: nothing, and a reset forgets the refusal.
	m.Reset()
	m.SetFigures(r.Stats, t0)
	if v = m.View(Messages(English), t0); v.Figures != nil || m.FiguresOff {
		t.Fatalf("figures when signed out: %+v", v.Figures)
	}
}

func TestFiguresMessagesHavePlaceholders(t *testing.T) {
	for _, lang := range []Lang{English, Chinese} {
		msgs := Messages(lang)
		for id, ph := range map[string][]string{
			"figures.queue":    {"{name}", "{waiting}", "{longest}", "{ready}"},
			"figures.longest":  {"{wait}"},
			"figures.agent":    {"{answered}", "{talk}", "{missed}"},
			"figures.outbound": {"{outbound}"},
		} {
			for _, p := range ph {
				if !strings.Contains(msgs[id], p) {
					t.Errorf("%s %s lacks %s: %q", lang, id, p, msgs[id])
				}
			}
		}
	}
}

func TestNoticesAndRenewal(t *testing.T) {
	for code, want := range map[string]NoticeAction{
		"token_expiring": NoticeRenew, "signed_in_elsewhere": NoticeForcedOut,
		"session_lost": NoticeForcedOut, "session_restored": NoticeNone, "": NoticeNone,
	} {
		if got := NoticeFor(code); got != want {
			t.Errorf("NoticeFor(%q) = %v, want %v", code, got, want)
		}
	}
	for code, want := range map[string]bool{"session_over": true, "unauthorized": true, "unsupported": false, "unavailable": false} {
		if SessionOver(code) != want {
			t.Errorf("SessionOver(%q) != %v", code, want)
		}
	}
	for _, lang := range []Lang{English, Chinese} {
		if m := Messages(lang); m["err.session_over"] == "" || m["err.unauthorized"] == "" {
			t.Errorf("%s: no message for a session that is over", lang)
		}
	}

	// renew_token's reply becomes the saved session: a new token and
	// expiry for the same agent, still no password.
	var r ServerMessage
	if err := json.Unmarshal([]byte(`{"type":"reply","id":"c3","ok":true,"token":"jwt-2","expires":"2026-11-21T10:00:00Z"}`), &r); err != nil || r.Expires == nil {
		t.Fatalf("renew reply: %v %+v", err, r)
	}
	old := Saved{Token: "jwt-1", Expires: t0.Add(time.Minute), Agent: "1001", Name: "Ann"}
	fresh := old.Renewed(r.Token, *r.Expires)
	got, ok := ParseSaved(fresh.Encode())
	if !ok || got.Token != "jwt-2" || !got.Expires.Equal(t0.Add(time.Hour)) || got.Agent != "1001" || got.Name != "Ann" || old.Token != "jwt-1" {
		t.Fatalf("renewed %+v (from %+v)", got, old)
	}
	if !got.Usable(t0.Add(30 * time.Minute)) {
		t.Error("renewed session not usable before its new expiry")
	}
	// The command the bar sends carries no token and no password.
	b, _ := json.Marshal(Command{Type: "cmd", ID: "c3", Op: "renew_token"})
	if string(b) != `{"type":"cmd","id":"c3","op":"renew_token"}` {
		t.Errorf("renew_token command %s", b)
	}
}

// The bar knows when its session ends without comparing clocks: after
// token_expiring, until a renewal moves the expiry.
func TestExpiry(t *testing.T) {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	e := Expiry{At: at(60)}
	if e.Ending {
		t.Fatal("a fresh token is ending")
	}
	e.Warned()
	e.Begin()
	e.Renewed(at(120)) // the server warns again before the new expiry
	if e.Ending || !e.At.Equal(at(120)) {
		t.Fatalf("after a renewal %+v", e)
	}
	e.Warned()
	e.Begin()
	e.Failed() // refused (session_over): the session ends at At
	if !e.Ending {
		t.Fatal("a warned token without a renewal is not ending")
	}
	e.Begin()
	e.Renewed(at(120)) // capped at max_session: the same expiry, no new warning
	if !e.Ending {
		t.Fatal("a renewal that did not move the expiry cleared the end")
	}
	e.Begin()
	e.Renewed(at(90)) // a host's token (setToken) with another expiry
	if e.Ending {
		t.Fatal("a token with a new expiry is still ending")
	}

	// Capped at max_session within the warning: the server warns for the
	// fresh token before its reply comes. That notice is about the fresh
	// token, whichever comes first.
	for _, noticeFirst := range []bool{true, false} {
		e := Expiry{At: at(60)}
		e.Warned()
		e.Begin()
		if noticeFirst {
			e.Warned()
			e.Begin() // the renewal that notice asks for
			e.Renewed(at(30))
		} else {
			e.Renewed(at(30))
			e.Warned()
			e.Begin()
		}
		if e.Ending != !noticeFirst {
			t.Fatalf("notice first %v: ending %v before the second reply", noticeFirst, e.Ending)
		}
		e.Renewed(at(30)) // the same expiry again
		if !e.Ending {
			t.Fatalf("notice first %v: not ending after a capped renewal %+v", noticeFirst, e)
		}
	}
}
