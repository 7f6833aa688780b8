package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/agentbar/agentbar/server/callcenter"
	"github.com/agentbar/agentbar/server/config"
	"github.com/agentbar/agentbar/server/huaweiemu"
)

// hwSecrets collects what the Huawei demo's emulated CC-Gateway was given
// and issued: the CTI passwords of the run and every Guid.
type hwSecrets struct {
	mu        sync.Mutex
	passwords []string
	guids     []string
}

// hook is the server's WithHuaweiDemoHook: it notes the passwords and
// collects the Guids (OnGuid runs under the emulator's lock: no blocking).
func (x *hwSecrets) hook(c *huaweiemu.Config) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, a := range c.Agents {
		x.passwords = append(x.passwords, a.Password)
	}
	c.OnGuid = func(g string) {
		x.mu.Lock()
		x.guids = append(x.guids, g)
		x.mu.Unlock()
	}
}

// issued is how many Guids the emulator has issued so far (one per
// sign-in, one per rotation).
func (x *hwSecrets) issued() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.guids)
}

func (x *hwSecrets) all() (passwords, guids []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Clone(x.passwords), slices.Clone(x.guids)
}

// netRecorder keeps what one tab's page exchanged over the network: every
// WebSocket frame either way (the control channel and SIP), the WebSocket
// handshake answers, the headers of every response, and the bodies of the
// responses to the page's documents and fetches (but the wasm).
type netRecorder struct {
	mu      sync.Mutex
	items   []string
	errs    []string
	pending sync.WaitGroup
}

func (r *netRecorder) add(s string) {
	r.mu.Lock()
	r.items = append(r.items, s)
	r.mu.Unlock()
}

// recordNetwork starts recording b's network traffic; call it before the
// page loads.
func recordNetwork(tb testing.TB, b *bar) *netRecorder {
	tb.Helper()
	r := &netRecorder{}
	var mu sync.Mutex
	bodies := map[network.RequestID]string{} // request -> URL, for the responses whose body is kept
	err := chromedp.Listen(b.ctx, func(ev any) {
		switch ev := ev.(type) {
		case *network.EventWebSocketFrameReceived:
			r.add("ws< " + string(ev.Response.PayloadData))
		case *network.EventWebSocketFrameSent:
			r.add("ws> " + string(ev.Response.PayloadData))
		case *network.EventWebSocketHandshakeResponseReceived:
			r.add("ws handshake " + mustJSON(ev.Response.Headers))
		case *network.EventResponseReceived:
			r.add(fmt.Sprintf("%s %s %d %s", ev.Type, ev.Response.URL, ev.Response.Status, mustJSON(ev.Response.Headers)))
			// Not the bar's wasm and scripts, which the build made.
			static := strings.Contains(ev.Response.MimeType, "wasm") || strings.Contains(ev.Response.MimeType, "javascript")
			switch ev.Type {
			case network.ResourceTypeDocument, network.ResourceTypeFetch, network.ResourceTypeXHR:
				if static {
					break
				}
				mu.Lock()
				bodies[ev.RequestID] = ev.Response.URL
				mu.Unlock()
			}
		case *network.EventLoadingFinished:
			mu.Lock()
			url, ok := bodies[ev.RequestID]
			delete(bodies, ev.RequestID)
			mu.Unlock()
			if !ok {
				return
			}
			// Not from the listener itself: it must not block.
			r.pending.Add(1)
			go func() {
				defer r.pending.Done()
				ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
				defer cancel()
				res, err := chromedp.Call(ctx, network.GetResponseBody, network.GetResponseBodyParams{RequestID: ev.RequestID})
				if err != nil {
					r.mu.Lock()
					r.errs = append(r.errs, fmt.Sprintf("body of %s: %v", url, err))
					r.mu.Unlock()
					return
				}
				r.add("body " + url + " " + string(res.Body))
			}()
		}
	})
	if err != nil {
		tb.Fatalf("%s: record the network: %v", b.name, err)
	}
	return r
}

// received waits for the pending body reads and returns everything
// recorded, and the bodies that could not be read.
func (r *netRecorder) received() ([]string, []string) {
	r.pending.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.items), slices.Clone(r.errs)
}

// hwSignIn opens agent's bar with its network recorded and signs in.
func hwSignIn(t *testing.T, e *env, agent string) (*bar, *netRecorder) {
	t.Helper()
	b := e.newTab(t, agent)
	rec := recordNetwork(t, b)
	b.navigate(t, "/")
	b.do(t, "signIn", agent, "pw"+agent)
	b.saw(t, "phone.registered", nil)
	if st := b.state(t); st.Agent != agent || st.State != "not_ready" {
		t.Fatalf("%s: state after sign-in through Huawei %+v (want not_ready)", agent, st)
	}
	return b, rec
}

// byCaller matches a call event by the customer's number: through Huawei
// the page sees the CC-Gateway's call ids, not the call center's.
func byCaller(caller string) func(barEvent) bool {
	return func(ev barEvent) bool { return ev.Call != nil && ev.Call.Caller == caller }
}

// phoneCause is the cause of a phone.ended event (the harness's decoding
// skips it: its code is a number, the SIP status).
func phoneCause(ev barEvent) string {
	var f struct {
		Cause string `json:"cause"`
	}
	_ = json.Unmarshal(ev.Raw, &f)
	return f.Cause
}

// inboundJS reads getStats of the page's open peer connections (a call
// that ended has closed its own): the audio packets received and the
// highest inbound audio level now.
const inboundJS = `(async () => {
  let packets = 0, level = 0;
  for (const pc of window.__e2e.pcs) {
    if (pc.signalingState === 'closed') continue;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') { packets += s.packetsReceived || 0; level = Math.max(level, s.audioLevel || 0); }
    });
  }
  return {packets, level};
})()`

// inbound is what inboundJS measured.
type inbound struct {
	Packets float64 `json:"packets"`
	Level   float64 `json:"level"`
}

func (b *bar) inbound(t *testing.T) inbound {
	t.Helper()
	return evalOK[inbound](t, b, inboundJS)
}

// audioBothWays polls, up to waitTimeout, until audio flows both ways on
// callID: the bar's open peer connection receives more packets than the
// baseline (packets of inbound, from before) at a level above silence,
// and agentbar.stats() shows audio too; the simulated customer hears more of the
// bar than custPackets, above silence. Chromium's fake microphone beeps,
// so a low sample is sampled again, not trusted. It returns the figures
// it saw last.
func audioBothWays(t *testing.T, e *env, b *bar, callID, what string, base inbound, custPackets uint64) (inbound, uint64) {
	t.Helper()
	var in inbound
	var st barStats
	var cs callcenter.CallStats
	d, ok := poll(waitTimeout, func() bool {
		in, st = b.inbound(t), b.stats(t)
		cs, _ = e.srv.CallCenter().CallStats(callID)
		return in.Packets > base.Packets && in.Level > heardLinear && st.PacketsReceived > 0 && st.AudioLevel > 0 &&
			cs.Customer.PacketsIn > custPackets+25 && cs.Customer.LevelIn > heardLinear
	})
	if !ok {
		t.Fatalf("%s: no audio both ways within %v: bar's peer connection %+v (from %+v), agentbar.stats() %+v, customer %+v (from %d packets)",
			what, waitTimeout, in, base, st, cs.Customer, custPackets)
	}
	t.Logf("%s: audio both ways after %v: bar %.0f packets in at level %.3f (agentbar.stats: level %.3f, MOS %.2f); customer %d packets in at level %.3f",
		what, d.Round(time.Millisecond), in.Packets, in.Level, st.AudioLevel, st.MOS, cs.Customer.PacketsIn, cs.Customer.LevelIn)
	return in, cs.Customer.PacketsIn
}

// rotationsLogged counts the emulator's "Guid rotated" debug lines per
// agent in the server log.
func rotationsLogged(log string) map[string]int {
	re := regexp.MustCompile(`agent=(\S+)`)
	n := map[string]int{}
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "Guid rotated") {
			if m := re.FindStringSubmatch(line); m != nil {
				n[m[1]]++
			}
		}
	}
	return n
}

// TestBrowserHuawei runs the bar in Chromium against the Huawei CEC
// adapter in demo mode (AGENTBAR_GATEWAY=huawei: the adapter talks over
// HTTP to the emulated CC-Gateway in front of the built-in call center),
// as TestE2EHuaweiDemo does with native phones: sign-in, ready, a customer
// call answered with audio both ways that lasts across several Guid
// rotations, hold and resume, a blind transfer to a second bar that
// answers, hang-up, wrap-up, not ready with a reason, sign-out; then the
// CC-Gateway restarts: the adapter signs the remaining agent in again,
// the page gets the session_restored notice, and a second call works.
// Finally nothing the pages received over the network, nothing they
// hold, and nothing in the server's log holds a CTI password or a Guid.
func TestBrowserHuawei(t *testing.T) {
	skipWithoutBar(t)
	secrets := &hwSecrets{}
	e := startEnvWith(t, envSetup{
		vars:  map[string]string{"AGENTBAR_GATEWAY": "huawei"}, // as `AGENTBAR_GATEWAY=huawei make run`
		level: slog.LevelDebug,                                 // the log is scanned for secrets too
		hook:  secrets.hook,
		edit: func(c *config.Config) {
			c.CallCenter.WrapUp = time.Minute // ended from the bars
			c.Gateway.Huawei.Demo.GuidInterval = 300 * time.Millisecond
			c.Gateway.Huawei.Demo.GuidTimeout = 900 * time.Millisecond
			c.Gateway.Huawei.Demo.PollHold = 500 * time.Millisecond
			c.Gateway.Huawei.Poll.ResignInBackoff = 200 * time.Millisecond
		},
	})
	if e.cfg.Gateway.Kind != config.GatewayHuawei || e.srv.HuaweiDemoEmulator() == nil {
		t.Fatalf("gateway %q, emulator %v: the Huawei demo did not start", e.cfg.Gateway.Kind, e.srv.HuaweiDemoEmulator())
	}
	t0 := time.Now()

	b1, rec1 := hwSignIn(t, e, "1001")
	dSignIn := time.Since(t0)

	// The page can see that the CC-Gateway answers (/readyz checks it).
	ready := evalOK[string](t, b1, `fetch('/readyz').then(async (r) => r.status + ' ' + await r.text())`)
	if !strings.HasPrefix(ready, "200 ") {
		t.Fatalf("/readyz from the page: %s", ready)
	}
	// The reasons come with CC-Gateway numbers: not ready 200..., rest 1...
	type reason struct {
		Code  string `json:"code"`
		Label string `json:"label"`
		Rest  bool   `json:"rest"`
	}
	reasons := evalOK[[]reason](t, b1, `window.agentbar.state().reasons`)
	if !slices.Equal(reasons, []reason{{"200", "Meeting", false}, {"1", "Lunch", true}}) {
		t.Fatalf("reasons offered through Huawei: %+v", reasons)
	}
	b1.ready(t)

	// A customer call rings 1001's bar, with its screen pop, and is
	// answered from the bar: the CTI's answer, then the phone's 200 OK.
	const caller = "+15550100"
	callID := e.demoCall("support", caller, map[string]string{"order": "A-17"})
	in := b1.expect(t, "call.incoming", byCaller(caller))
	hwID := in.Call.ID
	if hwID == "" || hwID == callID || in.Call.Queue != "support" {
		t.Fatalf("call.incoming %+v (call center id %s)", in.Call, callID)
	}
	// The screen pop has the call's data: the adapter read it with
	// calldata callinfobycallid before handing the event on (no CC-Gateway
	// event carries call data).
	if in.Call.Caller != caller || fmt.Sprint(in.Call.Data["order"]) != "A-17" {
		t.Fatalf("screen pop through Huawei: caller %s, queue %s, data %v; want the call center's caller %s and data order=A-17", in.Call.Caller, in.Call.Queue, in.Call.Data, caller)
	}
	b1.expectCall(t, "call.ringing", hwID)
	pin := b1.saw(t, "phone.incoming", nil)
	t.Logf("1001's phone rings: %s (the CTI's call id is %s, the call center's %s)", pin, hwID, callID)
	tAnswer := time.Now()
	b1.do(t, "answer")
	b1.expectCall(t, "call.answered", hwID)
	dAnswered := time.Since(tAnswer)
	if st := b1.state(t); st.State != "busy" || st.Call == nil || st.Call.ID != hwID || st.Call.State != "talking" {
		t.Fatalf("1001's state on the call %+v", st)
	}
	g0, tCall, r0 := secrets.issued(), time.Now(), rotationsLogged(e.serverLog.String())["1001"]
	in1, cp := audioBothWays(t, e, b1, callID, "1001 answered", inbound{}, 0)
	if cs := e.customer(callID); !slices.Equal(cs.Agents, []string{"1001"}) {
		t.Fatalf("agents on the call %v", cs.Agents)
	}

	// The call lasts across several Guid rotations (1001 is the only agent
	// signed in, so every Guid issued now is a rotation of its session);
	// the adapter follows, and audio still flows both ways afterwards.
	dRot := eventually(t, 10*time.Second, "3 Guid rotations during the call", func() bool { return secrets.issued()-g0 >= 3 })
	in1, cp = audioBothWays(t, e, b1, callID, "1001 after the rotations", in1, cp)
	t.Logf("call up %v: %d Guids issued (3 after %v), %d rotations of 1001's session logged", time.Since(tCall).Round(time.Millisecond),
		secrets.issued()-g0, dRot.Round(time.Millisecond), rotationsLogged(e.serverLog.String())["1001"]-r0)

	// Hold and resume, with whatever Guid is current.
	b1.do(t, "hold")
	b1.expectCall(t, "call.held", hwID)
	if !e.customer(callID).Held {
		t.Fatal("customer not held")
	}
	b1.do(t, "resume")
	b1.expectCall(t, "call.resumed", hwID)
	if e.customer(callID).Held {
		t.Fatal("customer still held after resume")
	}
	audioBothWays(t, e, b1, callID, "1001 after resume", b1.inbound(t), e.customer(callID).Customer.PacketsIn)

	// Blind transfer to 1002 in a second browser context: 1001's call
	// ends (the call center hangs its phone up) and 1001 wraps up; 1002's
	// bar rings with the same customer and answers.
	b2, rec2 := hwSignIn(t, e, "1002")
	b2.ready(t)
	tTransfer := time.Now()
	b1.do(t, "transfer", map[string]string{"kind": "agent", "id": "1002"})
	if ev := b1.expectCall(t, "call.ended", hwID); ev.Cause != "transferred" {
		t.Errorf("1001's call.ended cause %q, want transferred", ev.Cause)
	}
	b1.saw(t, "call.transferred", func(ev barEvent) bool { return ev.callID() == hwID })
	b1.expectState(t, "wrap_up")
	if ev := b1.saw(t, "phone.ended", nil); phoneCause(ev) != "remote-hangup" {
		t.Errorf("1001's phone after the transfer: %s", ev)
	}
	in2 := b2.expect(t, "call.incoming", byCaller(caller))
	hwID2 := in2.Call.ID
	if hwID2 == "" || in2.Call.Queue != "support" {
		t.Fatalf("1002's call.incoming %+v", in2.Call)
	}
	b2.expectCall(t, "call.ringing", hwID2)
	b2.do(t, "answer")
	b2.expectCall(t, "call.answered", hwID2)
	audioBothWays(t, e, b2, callID, "1002 after the transfer", inbound{}, e.customer(callID).Customer.PacketsIn)
	if cs := e.customer(callID); !slices.Equal(cs.Agents, []string{"1002"}) {
		t.Fatalf("agents after the transfer %v", cs.Agents)
	}
	t.Logf("blind transfer: 1002 talks to the customer %v after the transfer (%d rotations of 1001's session logged during its part of the call; call id %s at 1001, %s at 1002)",
		time.Since(tTransfer).Round(time.Millisecond), rotationsLogged(e.serverLog.String())["1001"]-r0, hwID, hwID2)

	// 1002 hangs up from the bar: the call center hangs the customer and
	// 1002's phone up; both bars finish their wrap-up.
	b2.do(t, "hangup")
	b2.expectCall(t, "call.ended", hwID2)
	b2.expectState(t, "wrap_up")
	if ev := b2.saw(t, "phone.ended", nil); phoneCause(ev) != "remote-hangup" {
		t.Errorf("1002's phone after the hang-up: %s", ev)
	}
	eventually(t, waitTimeout, "the customer's call to end", func() bool { return e.customer(callID).Ended })
	dCall, gCall := time.Since(tCall), secrets.issued()-g0
	b2.do(t, "completeWrapUp")
	b2.expectState(t, "ready")
	b1.do(t, "completeWrapUp")
	b1.expectState(t, "ready")
	if st := e.srv.CallCenter().Stats(); st.CallsAnswered != 1 || st.CallsTransfered != 1 || st.CallsEnded != 1 {
		t.Fatalf("call center stats after the call %+v", st)
	}

	// Not ready with a reason (Meeting, CC-Gateway 200), then sign-out.
	b1.do(t, "setNotReady", "200")
	b1.expect(t, "agent.state", func(ev barEvent) bool { return ev.State == "not_ready" && ev.Reason == "200" })
	if st := b1.state(t); st.State != "not_ready" || st.Reason != "200" {
		t.Fatalf("1001 after setNotReady(200): %+v", st)
	}
	b1.do(t, "signOut")
	b1.expectState(t, "signed_out")

	// The CC-Gateway restarts: the adapter signs 1002 in again, the page
	// gets the session_restored notice and the fresh state (not ready).
	before, mark := secrets.issued(), b2.cursor
	tRestart := time.Now()
	e.srv.HuaweiDemoEmulator().Restart()
	b2.expect(t, "session.notice", func(ev barEvent) bool { return ev.Code == "session_restored" })
	b2.expectState(t, "not_ready")
	dRestored := time.Since(tRestart)
	for _, ev := range b2.events[mark:b2.cursor] {
		if ev.Kind == "error" || ev.Kind == "channel.closed" || ev.Kind == "phone.unregistered" || ev.State == "signed_out" || ev.Code == "session_lost" {
			t.Fatalf("1002's bar through the CC-Gateway restart: %s; events:%s", ev, b2.summary())
		}
	}
	if issued := secrets.issued(); issued <= before {
		t.Fatalf("no Guid issued by the re-sign-in (%d before, %d after)", before, issued)
	}
	if st := b2.state(t); st.Agent != "1002" || st.Channel != "open" || st.Phone != "registered" || st.Call != nil {
		t.Fatalf("1002 after the CC-Gateway restart: %+v", st)
	}

	// A second call works after the restart.
	b2.ready(t)
	const caller3 = "+15550111"
	callID3 := e.demoCall("support", caller3, nil)
	in3 := b2.expect(t, "call.incoming", byCaller(caller3))
	hwID3 := in3.Call.ID
	b2.expectCall(t, "call.ringing", hwID3)
	b2.do(t, "answer")
	b2.expectCall(t, "call.answered", hwID3)
	audioBothWays(t, e, b2, callID3, "1002 after the restart", inbound{}, 0)
	b2.do(t, "hangup")
	b2.expectCall(t, "call.ended", hwID3)
	b2.expectState(t, "wrap_up")
	b2.do(t, "completeWrapUp")
	b2.expectState(t, "ready")
	if cs := e.customer(callID3); !cs.Ended {
		t.Fatalf("second call not over after the hang-up: %+v", cs)
	}
	b2.do(t, "signOut")
	b2.expectState(t, "signed_out")
	t.Logf("signed in (SIP registered) %v after opening the page; answered in %v; first call %v with %d Guids issued; CC-Gateway restart: session_restored and not_ready %v later; whole test %v",
		dSignIn.Round(time.Millisecond), dAnswered.Round(time.Millisecond), dCall.Round(time.Millisecond), gCall,
		dRestored.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))

	// No command failed on the way.
	for _, b := range []*bar{b1, b2} {
		b.fetch(t, time.Millisecond)
		for _, ev := range b.events {
			if ev.Kind == "error" {
				t.Errorf("%s: %s", b.name, ev)
			}
		}
	}

	// Nothing secret reached the pages or the log. What the pages got:
	// every event the bars emitted, their state, storage and DOM, their
	// console, and every WebSocket frame, handshake answer and document
	// or fetch response (headers and body) over the network.
	var sent []string
	for _, x := range []struct {
		b   *bar
		rec *netRecorder
	}{{b1, rec1}, {b2, rec2}} {
		sent = append(sent, evalOK[string](t, x.b, `JSON.stringify(window.__e2e.events)`))
		sent = append(sent, evalOK[string](t, x.b, `JSON.stringify([window.agentbar.state(), Object.assign({}, sessionStorage), Object.assign({}, localStorage), document.documentElement.outerHTML])`))
		got, errs := x.rec.received()
		if len(errs) > 0 {
			t.Errorf("%s: response bodies not read: %v", x.b.name, errs)
		}
		frames := 0
		for _, s := range got {
			if strings.HasPrefix(s, "ws< ") {
				frames++
			}
		}
		if frames < 20 {
			t.Errorf("%s: only %d WebSocket frames recorded", x.b.name, frames)
		}
		sent = append(sent, got...)
	}
	sent = append(sent, ready, e.browserLog.String())
	// The session tokens' claims too (a JWT's payload is base64url).
	jwt := regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.(eyJ[A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+`)
	tokens := map[string]bool{}
	for _, m := range sent {
		for _, sub := range jwt.FindAllStringSubmatch(m, -1) {
			tokens[sub[1]] = true
		}
	}
	if len(tokens) == 0 {
		t.Error("no session token among what the pages received")
	}
	for p := range tokens {
		claims, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			t.Errorf("a token's claims: %v", err)
		}
		sent = append(sent, string(claims))
	}
	passwords, guids := secrets.all()
	logText := e.serverLog.String()
	if len(passwords) != len(e.cfg.CallCenter.Agents) || len(guids) < 10 {
		t.Fatalf("collected %d CTI passwords and %d Guids", len(passwords), len(guids))
	}
	for i, sec := range append(passwords, guids...) {
		kind := "Guid"
		if i < len(passwords) {
			kind = "CTI password"
		}
		if len(sec) < 8 {
			t.Fatalf("a %s of %d characters is too short to scan for", kind, len(sec))
		}
		if strings.Contains(logText, sec) {
			t.Errorf("a %s appears in the server log", kind)
		}
		for _, m := range sent {
			if strings.Contains(m, sec) {
				t.Errorf("a %s reached the page: %.200s", kind, m)
			}
		}
	}
	bytes := 0
	for _, m := range sent {
		bytes += len(m)
	}
	t.Logf("scanned %d items (%d bytes) the pages received or hold (%d session tokens' claims among them) and %d bytes of server log (debug) for %d CTI passwords and %d Guids; Guid rotations logged per agent in all: %v",
		len(sent), bytes, len(tokens), len(logText), len(passwords), len(guids), rotationsLogged(logText))
}
