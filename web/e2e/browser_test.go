package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/agentbar/agentbar/server/config"
)

// customerHears reports whether the simulated customer of callID hears a
// voice (Chromium's fake microphone through the agent's bar).
func customerHears(e *env, callID string) func() bool {
	return func() bool {
		st, ok := e.srv.CallCenter().CallStats(callID)
		return ok && st.Customer.PacketsIn > 25 && st.Customer.LevelIn > heardLinear
	}
}

// signIn opens agent's bar at / and signs in (the promise resolves once
// the SIP phone is registered); it returns how long that took.
func signIn(t *testing.T, e *env, agent string) (*bar, time.Duration) {
	t.Helper()
	t0 := time.Now()
	b := e.openBar(t, agent, "/")
	b.do(t, "signIn", agent, "pw"+agent)
	d := time.Since(t0)
	b.saw(t, "phone.registered", nil)
	if st := b.state(t); st.Agent != agent {
		t.Fatalf("%s: state after sign-in %+v", agent, st)
	}
	return b, d
}

// ready makes the agent ready.
func (b *bar) ready(t *testing.T) {
	t.Helper()
	b.do(t, "setReady")
	b.expectState(t, "ready")
}

// wrapUp waits for wrap-up and ends it from the bar.
func (b *bar) wrapUp(t *testing.T) {
	t.Helper()
	b.expectState(t, "wrap_up")
	b.do(t, "completeWrapUp")
	b.expectState(t, "ready")
}

// TestBrowserCall drives a whole customer call through real bars in
// Chromium: screen pop, answer, two-way audio, hold, mute, DTMF, blind
// transfer to a second bar, consult and conference with a third, hang-up,
// wrap-up and sign-out.
func TestBrowserCall(t *testing.T) {
	skipWithoutBar(t)
	e := startEnv(t, func(c *config.Config) {
		c.CallCenter.WrapUp = time.Minute // ended from the bar
	})
	t0 := time.Now()
	b1, dSignIn := signIn(t, e, "1001")
	b1.ready(t)

	// The statistics strip (get_stats): the support queue, and nothing
	// answered yet.
	eventually(t, waitTimeout, "1001's statistics strip to show the support queue", func() bool {
		return strings.Contains(b1.text(t, "figures-queues"), "Support: 0 waiting")
	})
	b1.saw(t, "stats", nil)
	if f := b1.figures(t); f == nil || f.Agent == nil || f.Agent.Answered != 0 || len(f.Queues) != 1 || f.Queues[0].ID != "support" {
		t.Fatalf("figures before the call %+v", f)
	}
	if s := b1.text(t, "figures-agent"); !strings.HasPrefix(s, "Answered 0 ·") {
		t.Fatalf("agent figures before the call %q", s)
	}

	// The call rings the bar with its screen pop.
	callID := e.demoCall("support", "+15550100", map[string]string{"order": "A-17"})
	in := b1.expectCall(t, "call.incoming", callID)
	if in.Call.Caller != "+15550100" || fmt.Sprint(in.Call.Data["order"]) != "A-17" {
		t.Fatalf("screen pop %+v", in.Call)
	}
	b1.expectCall(t, "call.ringing", callID)
	if st := b1.state(t); st.Call == nil || st.Call.ID != callID || st.Call.Caller != "+15550100" {
		t.Fatalf("state while ringing %+v", st)
	}

	// Answer: audio both ways.
	tAnswer := time.Now()
	b1.do(t, "answer")
	b1.expectCall(t, "call.answered", callID)
	dAnswered := time.Since(tAnswer)
	dBar := eventually(t, waitTimeout, "1001's bar to hear the customer", b1.hears(t))
	dCust := eventually(t, waitTimeout, "the customer to hear Chromium's fake microphone", customerHears(e, callID))
	st1, cs := b1.stats(t), e.customer(callID)
	t.Logf("signed in (SIP registered) %v after opening the page; answered in %v; bar hears after %v (%.0f packets, level %.3f, MOS %.2f); customer hears after %v (%d packets, level %.3f)",
		dSignIn.Round(time.Millisecond), dAnswered.Round(time.Millisecond), dBar.Round(time.Millisecond), st1.PacketsReceived, st1.AudioLevel, st1.MOS,
		dCust.Round(time.Millisecond), cs.Customer.PacketsIn, cs.Customer.LevelIn)
	if !slices.Equal(cs.Agents, []string{"1001"}) {
		t.Fatalf("agents on the call %v", cs.Agents)
	}
	if os.Getenv("AGENTBAR_SCREENSHOT") == "1" {
		b1.screenshot(t, filepath.Join(moduleRoot, "docs", "bar.png"))
	}

	// Hold and resume.
	b1.do(t, "hold")
	b1.expectCall(t, "call.held", callID)
	if !e.customer(callID).Held {
		t.Fatal("customer not held")
	}
	b1.do(t, "resume")
	b1.expectCall(t, "call.resumed", callID)
	if e.customer(callID).Held {
		t.Fatal("customer still held after resume")
	}

	// Mute: the customer hears silence; unmute: the voice again.
	b1.do(t, "mute")
	dMute := eventually(t, 10*time.Second, "the customer's level to drop to silence", func() bool {
		return e.customer(callID).Customer.LevelIn == 0
	})
	b1.do(t, "unmute")
	dUnmute := eventually(t, 10*time.Second, "the customer to hear 1001 again", customerHears(e, callID))
	t.Logf("muted: customer silent after %v; unmuted: heard again after %v", dMute.Round(time.Millisecond), dUnmute.Round(time.Millisecond))

	// DTMF reaches the customer.
	b1.do(t, "sendDTMF", "12#")
	dDTMF := eventually(t, 10*time.Second, "the customer to get the digits 12#", func() bool { return e.customer(callID).DTMF == "12#" })
	for _, d := range []string{"1", "2", "#"} {
		b1.expect(t, "call.dtmf", func(ev barEvent) bool { return ev.Digits == d })
	}
	t.Logf("DTMF 12# at the customer after %v", dDTMF.Round(time.Millisecond))

	// Blind transfer to 1002 in a second browser context.
	b2, _ := signIn(t, e, "1002")
	b2.ready(t)
	tTransfer := time.Now()
	b1.do(t, "transfer", map[string]string{"kind": "agent", "id": "1002"})
	b1.expectCall(t, "call.transferred", callID)
	if ev := b1.expectCall(t, "call.ended", callID); ev.Cause != "transferred" {
		t.Fatalf("1001's call.ended cause %q", ev.Cause)
	}
	in2 := b2.expectCall(t, "call.incoming", callID)
	if in2.Call.Caller != "+15550100" || fmt.Sprint(in2.Call.Data["order"]) != "A-17" {
		t.Fatalf("1002's screen pop %+v", in2.Call)
	}
	b2.expectCall(t, "call.ringing", callID)
	b2.do(t, "answer")
	b2.expectCall(t, "call.answered", callID)
	eventually(t, waitTimeout, "1002's bar to hear the customer", b2.hears(t))
	eventually(t, waitTimeout, "the customer to hear 1002", customerHears(e, callID))
	if cs := e.customer(callID); !slices.Equal(cs.Agents, []string{"1002"}) {
		t.Fatalf("agents after the transfer %v", cs.Agents)
	}
	t.Logf("blind transfer: 1002 talks to the customer %v after the transfer", time.Since(tTransfer).Round(time.Millisecond))
	b1.wrapUp(t)
	// 1001's call ended: the strip counts it at once (not at the next 10 s turn).
	eventually(t, 5*time.Second, "1001's strip to count the answered call", func() bool {
		f := b1.figures(t)
		return f != nil && f.Agent != nil && f.Agent.Answered == 1 && strings.HasPrefix(b1.text(t, "figures-agent"), "Answered 1 ·")
	})

	// Consult 1003, then conference.
	b3, _ := signIn(t, e, "1003")
	b3.ready(t)
	b2.do(t, "consult", map[string]string{"kind": "agent", "id": "1003"})
	b3.expectCall(t, "call.incoming", callID)
	b3.expectCall(t, "call.ringing", callID)
	b3.do(t, "answer")
	b3.expectCall(t, "call.answered", callID)
	b2.saw(t, "call.consult_started", func(ev barEvent) bool { return ev.callID() == callID })
	if cs := e.customer(callID); !cs.Held {
		t.Fatalf("customer not held during the consult: %+v", cs)
	}
	eventually(t, waitTimeout, "1003's bar to hear 1002 during the consult", b3.hears(t))
	b2.do(t, "conference")
	b2.expectCall(t, "call.conferenced", callID)
	b3.expectCall(t, "call.conferenced", callID)
	if cs := e.customer(callID); cs.Held || !slices.Equal(slices.Sorted(slices.Values(cs.Agents)), []string{"1002", "1003"}) {
		t.Fatalf("conference stats %+v", cs)
	}
	eventually(t, waitTimeout, "the customer to hear the conference", customerHears(e, callID))
	t.Logf("conference: 1003's bar %+v, customer %+v", b3.stats(t), e.customer(callID).Customer)

	// Hang up: 1002 leaves, then 1003; the call ends.
	b2.do(t, "hangup")
	if ev := b2.expectCall(t, "call.ended", callID); ev.Cause != "agent_hangup" {
		t.Fatalf("1002's call.ended cause %q", ev.Cause)
	}
	b2.wrapUp(t)
	b3.do(t, "hangup")
	b3.expectCall(t, "call.ended", callID)
	b3.wrapUp(t)
	if cs := e.customer(callID); !cs.Ended || cs.DTMF != "12#" || cs.Customer.PacketsIn == 0 {
		t.Fatalf("final call stats %+v", cs)
	}

	// Sign out.
	for _, b := range []*bar{b1, b2, b3} {
		b.do(t, "signOut")
		b.expectState(t, "signed_out")
	}
	if st := e.srv.CallCenter().Stats(); st.CallsAnswered != 1 || st.CallsTransfered != 1 || st.CallsEnded != 1 {
		t.Fatalf("call center stats %+v", st)
	}
	t.Logf("whole call %v", time.Since(t0).Round(time.Millisecond))
}

// TestBrowserReload reloads the bar in the middle of a call: the bar
// resumes from the session token it kept in sessionStorage (no sign-in
// form), reopens the control channel from its saved seq (the events after
// it replay once each, in order), registers the phone again and shows the
// call, which went on meanwhile and can still be handled from the bar.
// The call's audio comes back: the bar asks for reconnect_media, the call
// center rings the new registration with auto-answer and moves the call's
// audio to the new dialog.
func TestBrowserReload(t *testing.T) {
	skipWithoutBar(t)
	e := startEnv(t, func(c *config.Config) {
		c.CallCenter.WrapUp = time.Minute
	})
	b, _ := signIn(t, e, "1001")
	b.ready(t)
	callID := e.demoCall("support", "+15550177", map[string]string{"ticket": "T-9"})
	b.expectCall(t, "call.incoming", callID)
	b.do(t, "answer")
	b.expectCall(t, "call.answered", callID)
	eventually(t, waitTimeout, "the bar to hear the customer", b.hears(t))
	eventually(t, waitTimeout, "the customer to hear the bar", customerHears(e, callID))

	// What the tab keeps: the token, never the password, and the seq.
	saved := evalOK[string](t, b, `JSON.stringify(Object.assign({}, sessionStorage))`)
	if strings.Contains(saved, "pw1001") || !strings.Contains(saved, "agentbar.session") {
		t.Fatalf("sessionStorage before the reload: %s", saved)
	}
	seq := evalOK[float64](t, b, `window.agentbar.state().seq`)
	if seq < 3 {
		t.Fatalf("seq %v before the reload", seq)
	}
	// Rewind the saved resume point by two events, as if they had come
	// while the page was unloading: the reloaded bar must get them again.
	from := uint64(seq) - 2
	evalOK[bool](t, b, fmt.Sprintf(`(sessionStorage.setItem('agentbar.seq', '%d'), true)`, from))

	tReload := time.Now()
	b.reload(t)
	if !evalOK[bool](t, b, `document.getElementById('signin').hidden`) {
		t.Fatal("the reloaded bar shows the sign-in form")
	}
	b.expectWithin(t, 10*time.Second, "channel.open", nil)
	showsCall := func() bool {
		st := b.state(t)
		return st.Agent == "1001" && st.Call != nil && st.Call.ID == callID && st.Call.State == "talking" && st.State == "busy"
	}
	dBack := eventually(t, waitTimeout, "the reloaded bar to show the call", showsCall)
	eventually(t, waitTimeout, "the reloaded bar's phone to register", func() bool { return b.state(t).Phone == "registered" })
	if !evalOK[bool](t, b, `document.getElementById('signin').hidden`) {
		t.Fatal("the resumed bar shows the sign-in form")
	}
	if cs := e.customer(callID); cs.Ended {
		t.Fatalf("the call ended with the reload: %+v", cs)
	}
	t.Logf("reload: the bar resumed and shows the call %v after the reload (%v after ready)", time.Since(tReload).Round(time.Millisecond), dBack.Round(time.Millisecond))
	b.fetch(t, 100*time.Millisecond)
	replayed := 0
	for _, ev := range b.events {
		if s, r := eventSeq(ev); s != 0 {
			if s <= from || s > uint64(seq) || !r {
				t.Errorf("after the reload from seq %d (was at %v): %s seq %d replayed %v", from, seq, ev.Kind, s, r)
			}
			replayed++
		}
	}
	if replayed != 2 {
		t.Errorf("%d events replayed after the reload, want 2; events:%s", replayed, b.summary())
	}

	// Audio comes back both ways over the new dialog (reconnect_media):
	// the reloaded page receives packets, more and more, and the customer
	// hears the bar again.
	before := e.customer(callID).Customer.PacketsIn
	// Each side counts once it has heard (Chromium's fake microphone
	// beeps, so the customer's level is not above silence at every poll),
	// the customer only with packets that came after the reload.
	var barHeard, custHeard bool
	d, ok := poll(waitTimeout, func() bool {
		barHeard = barHeard || b.hears(t)()
		custHeard = custHeard || (customerHears(e, callID)() && e.customer(callID).Customer.PacketsIn > before)
		return barHeard && custHeard
	})
	if !ok {
		t.Fatalf("no audio both ways after the reload (bar %+v, customer %+v)", b.stats(t), e.customer(callID).Customer)
	}
	t.Logf("audio both ways again %v after the bar showed the call", d.Round(time.Millisecond))
	// agentbar.stats() samples getStats once a second
	p1 := b.stats(t).PacketsReceived
	if _, ok := poll(5*time.Second, func() bool { return b.stats(t).PacketsReceived > p1 }); p1 == 0 || !ok {
		t.Errorf("the reloaded bar's packetsReceived went %v -> %v, want increasing", p1, b.stats(t).PacketsReceived)
	}
	// (the poll above proved the customer heard the bar; Chromium's fake
	// microphone beeps, so a second instantaneous level sample may dip)
	if cs := e.customer(callID).Customer; cs.PacketsIn <= before {
		t.Errorf("the customer after the reload: %+v (packets in before %d), want more packets", cs, before)
	}
	if cs := e.customer(callID); cs.Ended {
		t.Fatalf("the call ended with the media reconnection: %+v", cs)
	}

	// The resumed page renews its token without the password
	// (renew_token): the saved token changes and the channel goes on with
	// it. A host page can hand one too (setToken); a bad one is refused.
	savedToken := func() string {
		return evalOK[string](t, b, `JSON.parse(sessionStorage.getItem('agentbar.session') || '{}').token || ''`)
	}
	tok0 := savedToken()
	b.do(t, "renewToken")
	tok1 := savedToken()
	if tok0 == "" || tok1 == "" || tok1 == tok0 {
		t.Fatalf("the saved token did not change with renewToken (%d -> %d bytes, same %v)", len(tok0), len(tok1), tok0 == tok1)
	}
	var minted struct {
		Token string `json:"token"`
	}
	if code := e.postJSON("/v1/session", map[string]string{"agent": "1001", "password": "pw1001"}, &minted); code != 200 || minted.Token == "" {
		t.Fatalf("POST /v1/session: %d", code)
	}
	b.do(t, "setToken", minted.Token)
	if savedToken() != minted.Token {
		t.Fatal("the saved token is not the one setToken handed over")
	}
	if code := evalOK[string](t, b, `window.agentbar.setToken('not.a.jwt').then(() => 'accepted', (e) => e.code)`); code != "unauthorized" {
		t.Fatalf("setToken with a bad token: %q, want unauthorized", code)
	}
	if savedToken() != minted.Token || b.state(t).Channel != "open" {
		t.Fatal("a refused token changed the session")
	}

	// The call is still the bar's to handle, and new events follow once.
	b.do(t, "hold")
	held := b.expectCall(t, "call.held", callID)
	if s, r := eventSeq(held); s != uint64(seq)+1 || r {
		t.Errorf("call.held after the reload: seq %d replayed %v, want seq %v", s, r, seq+1)
	}
	b.do(t, "resume")
	b.expectCall(t, "call.resumed", callID)
	b.do(t, "hangup")
	b.expectCall(t, "call.ended", callID)
	b.wrapUp(t)
	if cs := e.customer(callID); !cs.Ended {
		t.Fatalf("call not over after the hang-up: %+v", cs)
	}
	seen := map[uint64]string{}
	for _, ev := range b.events {
		if s, _ := eventSeq(ev); s != 0 {
			if k, dup := seen[s]; dup {
				t.Errorf("seq %d delivered twice (%s, %s)", s, k, ev.Kind)
			}
			seen[s] = ev.Kind
		}
	}
	b.do(t, "signOut")
	b.expectState(t, "signed_out")
	if left := evalOK[string](t, b, `JSON.stringify(Object.assign({}, sessionStorage))`); strings.Contains(left, "agentbar.") {
		t.Fatalf("sessionStorage after sign-out: %s", left)
	}
	// A reload after sign-out shows the sign-in form.
	b.reload(t)
	eventually(t, waitTimeout, "the sign-in form after sign-out and reload", func() bool {
		ok, err := evaluate[bool](b, `!document.getElementById('signin').hidden`)
		return err == nil && ok
	})
}

// evalOK evaluates a JavaScript expression in the bar's page, failing the
// test on an error.
func evalOK[T any](t testing.TB, b *bar, expr string) T {
	t.Helper()
	v, err := evaluate[T](b, expr)
	if err != nil {
		t.Fatalf("%s: %s: %v", b.name, expr, err)
	}
	return v
}

// eventSeq is the seq of a control-channel event (0 for none, and for
// the bar's own hello and channel.open) and whether it came replayed.
func eventSeq(ev barEvent) (uint64, bool) {
	if ev.Kind == "hello" || ev.Kind == "channel.open" {
		return 0, false
	}
	var f struct {
		Seq      uint64 `json:"seq"`
		Replayed bool   `json:"replayed"`
	}
	_ = json.Unmarshal(ev.Raw, &f)
	return f.Seq, f.Replayed
}

// poll is eventually that reports a timeout instead of failing.
func poll(timeout time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Since(start) > timeout {
			return time.Since(start), false
		}
		<-tick.C
	}
	return time.Since(start), true
}

// answerToFirstPacketJS answers and polls getStats of the page's peer
// connections until the first inbound RTP packet is counted; it returns
// the milliseconds taken. (agentbar.stats() is sampled once a second, too
// coarse for this.)
const answerToFirstPacketJS = `(async () => {
  const before = await window.__e2e.inbound();
  const t0 = performance.now();
  await window.agentbar.answer();
  for (;;) {
    if (await window.__e2e.inbound() > before) return performance.now() - t0;
    if (performance.now() - t0 > 20000) throw new Error('no inbound RTP packet within 20 s of answer');
    await new Promise((r) => setTimeout(r, 2));
  }
})()`

// signInOnReadyJS runs in the page before its own scripts: it signs in as
// soon as the bar is ready, as a host page would, and records the outcome
// in window.__signedIn.
const signInOnReadyJS = `addEventListener('agentbar:ready', () => {
  window.agentbar.signIn('1001', 'pw1001').then(() => { window.__signedIn = 'ok'; }, (e) => { window.__signedIn = String(e && e.message || e); });
}, {once: true});`

// startupMarksJS reads the bar's start-up marks, in milliseconds since
// the navigation started.
const startupMarksJS = `(() => {
  const at = (n) => { const e = performance.getEntriesByName(n)[0]; return e ? e.startTime : -1; };
  return {compiled: at('agentbar:compiled'), start: at('agentbar:start'), ready: at('agentbar:ready'), registered: at('agentbar:registered')};
})()`

// BenchmarkBrowserRegister measures, in real Chromium, the time from
// navigating to the bar with a fresh profile (a new browser context) to the
// SIP phone being registered, timed in the page (the bar's performance
// marks, from the start of the navigation), with the sign-in started by
// the page as soon as the bar is ready; from answer to the first inbound
// RTP packet of a call, answered as soon as it rings and answered once its
// early media is connected; and from the call center's INVITE leaving the
// call center to the bar's 180 arriving there.
func BenchmarkBrowserRegister(b *testing.B) {
	skipWithoutBar(b)
	e := startEnv(b, nil)

	b.Run("navigate-to-registered", func(b *testing.B) {
		var marks []startupMarks
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			br := e.newTab(b, "bench-1001")
			if _, err := chromedp.Call(br.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: signInOnReadyJS}); err != nil {
				b.Fatalf("install the sign-in script: %v", err)
			}
			b.StartTimer()
			br.navigate(b, "/")
			eventually(b, waitTimeout, "the page's sign-in", func() bool {
				return evalOK[string](b, br, `window.__signedIn || ''`) != ""
			})
			b.StopTimer()
			if r := evalOK[string](b, br, `window.__signedIn`); r != "ok" {
				b.Fatalf("sign-in: %s", r)
			}
			marks = append(marks, evalOK[startupMarks](b, br, startupMarksJS))
			br.do(b, "signOut")
			br.expectState(b, "signed_out")
			br.close()
			b.StartTimer()
		}
		for _, m := range []struct {
			unit string
			at   func(startupMarks) float64
		}{
			{"ms/registered", func(m startupMarks) float64 { return m.Registered }},
			{"ms/bar-ready", func(m startupMarks) float64 { return m.Ready }},
			{"ms/go-started", func(m startupMarks) float64 { return m.Start }},
			{"ms/wasm-compiled", func(m startupMarks) float64 { return m.Compiled }},
		} {
			v := make([]float64, len(marks))
			for i, mk := range marks {
				v[i] = m.at(mk)
			}
			b.ReportMetric(median(v), m.unit)
		}
	})

	// answer-to-first-rtp answers the moment the call rings (the worst
	// case: the early media is still being set up); rung-answer-to-first-rtp
	// once the call has rung long enough for the early media's ICE and
	// DTLS to complete, as when an agent takes a second to answer.
	b.Run("answer-to-first-rtp", func(b *testing.B) { benchAnswer(b, e, false) })
	b.Run("rung-answer-to-first-rtp", func(b *testing.B) { benchAnswer(b, e, true) })
}

// earlyConnectedJS waits for the bar's newest peer connection (the early
// media of the ringing call) to connect.
const earlyConnectedJS = `(async () => {
  const t0 = performance.now();
  for (;;) {
    const pcs = window.__e2e.pcs, pc = pcs[pcs.length - 1];
    if (pc && pc.connectionState === 'connected') return true;
    if (performance.now() - t0 > 10000) throw new Error('the early media did not connect within 10 s of ringing');
    await new Promise((r) => setTimeout(r, 5));
  }
})()`

// benchAnswer measures answer to the first inbound RTP packet on a bar of
// its own (each run of it, as b.N grows), answering at once or, with
// rung, once the early media is connected.
func benchAnswer(b *testing.B, e *env, rung bool) {
	br := e.openBar(b, "bench-1002", "/")
	br.do(b, "signIn", "1002", "pw1002")
	br.do(b, "setReady")
	eventually(b, waitTimeout, "1002 to be ready", func() bool { return br.state(b).State == "ready" })
	defer func() {
		br.do(b, "signOut")
		eventually(b, waitTimeout, "1002 to be signed out", func() bool { return br.state(b).State == "signed_out" })
		br.close()
	}()
	var firstRTP, rang []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		callID := e.demoCall("support", "+15550199", nil)
		br.expectCall(b, "call.ringing", callID)
		if rung {
			if _, err := evaluate[bool](br, earlyConnectedJS); err != nil {
				b.Fatalf("early media: %v\nevents:%s", err, br.summary())
			}
		}
		b.StartTimer()
		ms, err := evaluate[float64](br, answerToFirstPacketJS)
		if err != nil {
			b.Fatalf("answer to first packet: %v\nevents:%s", err, br.summary())
		}
		firstRTP = append(firstRTP, ms)
		b.StopTimer()
		if r := e.customer(callID).Rang; len(r) == 1 {
			rang = append(rang, float64(r[0].Microseconds())/1000)
		} else {
			b.Fatalf("the call center timed %d INVITE-to-180 exchanges, want 1", len(r))
		}
		br.do(b, "hangup")
		br.expectCall(b, "call.ended", callID)
		br.expectState(b, "wrap_up")
		br.do(b, "completeWrapUp")
		br.expectState(b, "ready")
		b.StartTimer()
	}
	b.ReportMetric(median(firstRTP), "ms/first-rtp-p50")
	b.ReportMetric(median(rang), "ms/invite-to-180-p50")
}

// startupMarks are the bar's start-up marks (startupMarksJS).
type startupMarks struct {
	Compiled   float64 `json:"compiled"`
	Start      float64 `json:"start"`
	Ready      float64 `json:"ready"`
	Registered float64 `json:"registered"`
}

// median is the middle value (the mean of the two middle ones).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// TestBrowserTokenExpiring lets the bar's session token run out: the
// server's token_expiring notice makes the bar renew it over the channel
// (renew_token, no password anywhere), the saved token changes and the
// channel goes on with it; a dropped SIP WebSocket comes back through the
// edge with a renewed token; the renewal once the token lasts to the end
// of auth.max_session is refused (session_over), the channel closes then,
// and the bar tells the agent why and to sign in again.
func TestBrowserTokenExpiring(t *testing.T) {
	skipWithoutBar(t)
	e := startEnv(t, func(c *config.Config) {
		// token_expiring 3 s after sign-in; renewals until 12 s after it
		// (the last one refused as session_over), when the channel closes.
		c.Auth.TokenTTL = 8 * time.Second
		c.Auth.TokenWarning = 5 * time.Second
		c.Auth.MaxSession = 12 * time.Second
	})
	b, _ := signIn(t, e, "1001")
	savedToken := func() string {
		return evalOK[string](t, b, `JSON.parse(sessionStorage.getItem('agentbar.session') || '{}').token || ''`)
	}
	tok0 := savedToken()
	b.expectWithin(t, 15*time.Second, "session.notice", func(ev barEvent) bool { return ev.Code == "token_expiring" })
	eventually(t, 5*time.Second, "the bar to keep a renewed token", func() bool { s := savedToken(); return s != "" && s != tok0 })
	if saved := evalOK[string](t, b, `JSON.stringify(Object.assign({}, sessionStorage))`); strings.Contains(saved, "pw1001") {
		t.Fatal("the password is in sessionStorage")
	}
	b.ready(t) // the channel works on with the renewed token
	if st := b.state(t); st.Channel != "open" || st.Phone != "registered" {
		t.Fatalf("after the renewal %+v", st)
	}

	// The SIP WebSocket drops: the phone comes back through the edge with
	// the renewed token.
	if n := evalOK[int](t, b, `window.__e2e.dropSIP()`); n != 1 {
		t.Fatalf("dropped %d SIP WebSockets, want 1", n)
	}
	b.expect(t, "phone.unregistered", nil)
	b.expect(t, "phone.registered", nil)
	if toks := evalOK[[]string](t, b, `window.__e2e.sipTokens()`); len(toks) != 2 || toks[0] != tok0 || toks[1] == tok0 || toks[1] == "" {
		t.Fatalf("the SIP WebSockets offered %d tokens, want the first and then a renewed one", len(toks))
	}

	// The session is over: the channel closes for good (the token is
	// refused, 4001) and the sign-in form comes back with a message.
	b.expectWithin(t, 15*time.Second, "channel.closed", func(ev barEvent) bool {
		var f struct {
			Code         int  `json:"code"`
			Reconnecting bool `json:"reconnecting"`
		}
		return json.Unmarshal(ev.Raw, &f) == nil && f.Code == 4001 && !f.Reconnecting
	})
	// The renewal past auth.max_session was refused for good, and the bar
	// says why.
	b.saw(t, "error", func(ev barEvent) bool {
		var f struct{ Op, Code string }
		return json.Unmarshal(ev.Raw, &f) == nil && f.Op == "renewToken" && f.Code == "session_over"
	})
	eventually(t, waitTimeout, "the sign-in form and a message", func() bool {
		return b.text(t, "signin-submit") != "" && strings.Contains(b.text(t, "error"), "maximum length")
	})
	if st := b.state(t); st.Agent != "" || st.Phone != "unregistered" {
		t.Fatalf("after the session ended %+v", st)
	}
	if left := evalOK[string](t, b, `JSON.stringify(Object.assign({}, sessionStorage))`); strings.Contains(left, "agentbar.session") {
		t.Fatalf("sessionStorage after the session ended: %s", left)
	}
}
