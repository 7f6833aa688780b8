package e2e

import (
	"testing"
	"time"
)

// selfTestPage is a stand-in bar with the same window.agentbar surface for
// what the harness needs: signIn takes a session and opens the real control
// channel (its events go to on() subscribers), the "phone" is the fake
// microphone looped through two RTCPeerConnections, stats() reads the
// receiving side's inbound-rtp.
const selfTestPage = `<!doctype html><html lang="en"><meta charset="utf-8"><title>agentbar e2e self-test</title>
<body><h1>e2e self-test</h1><p id="status">loading</p>
<script>
(() => {
  const handlers = {};
  const emit = (type, ev) => { for (const fn of handlers[type] || []) fn(ev); };
  const st = {agent: '', state: 'signed_out', reason: '', call: null, channel: 'closed', phone: 'unregistered'};
  let ws, pcs = [], stream, next = 0;
  const replies = {};
  const status = (s) => { document.getElementById('status').textContent = s; };
  const cmd = (op, fields) => new Promise((resolve, reject) => {
    const id = 'c' + (++next);
    replies[id] = (m) => m.ok ? resolve(m) : reject(new Error(op + ': ' + JSON.stringify(m.error)));
    ws.send(JSON.stringify(Object.assign({type: 'cmd', id, op}, fields || {})));
  });
  const bar = {
    on(type, fn) { (handlers[type] = handlers[type] || []).push(fn); },
    async signIn(agent, password) {
      const r = await fetch('/v1/session', {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({agent, password})});
      if (!r.ok) throw new Error('POST /v1/session: ' + r.status);
      const {token} = await r.json();
      ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/v1/agent/ws', ['agentbar.v1', 'access_token.' + token]);
      await new Promise((resolve, reject) => {
        ws.onmessage = (m) => {
          const msg = JSON.parse(m.data);
          if (msg.type === 'hello') {
            st.agent = msg.agent; st.state = msg.snapshot.state; st.channel = 'open';
            emit('channel.open', {agent: msg.agent, seq: msg.seq});
            resolve();
          } else if (msg.type === 'reply') {
            const f = replies[msg.id]; delete replies[msg.id]; if (f) f(msg);
          } else if (msg.type === 'event') {
            const ev = msg.event;
            if (ev.type === 'agent.state') { st.state = ev.state; st.reason = ev.reason || ''; }
            emit(ev.type, ev);
          } else {
            emit('error', msg);
          }
        };
        ws.onerror = () => reject(new Error('control channel failed'));
        ws.onclose = () => { st.channel = 'closed'; emit('channel.closed', {}); };
      });
      stream = await navigator.mediaDevices.getUserMedia({audio: true});
      await cmd('sign_in');
      st.phone = 'registered';
      emit('phone.registered', {aor: 'sip:' + agent + '@selftest'});
      status('signed in as ' + agent);
    },
    async setReady() { await cmd('ready'); },
    async setNotReady(reason) { await cmd('not_ready', {reason}); },
    async answer() {
      const a = new RTCPeerConnection(), b = new RTCPeerConnection();
      pcs = [a, b];
      a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
      b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
      const heard = new Promise((resolve) => { b.ontrack = (e) => { const el = new Audio(); el.srcObject = e.streams[0] || new MediaStream([e.track]); el.play().catch(() => {}); resolve(); }; });
      for (const t of stream.getAudioTracks()) a.addTrack(t, stream);
      await a.setLocalDescription(await a.createOffer());
      await b.setRemoteDescription(a.localDescription);
      await b.setLocalDescription(await b.createAnswer());
      await a.setRemoteDescription(b.localDescription);
      await heard;
      st.call = {id: 'loopback', caller: 'self', queue: '', data: {}, state: 'connected'};
      emit('call.answered', {type: 'call.answered', call: st.call});
      status('on a loopback call');
    },
    async hangup() { for (const pc of pcs) pc.close(); pcs = []; st.call = null; status('signed in'); },
    async stats() {
      if (pcs.length < 2) return null;
      const rep = await pcs[1].getStats();
      let out = null;
      rep.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'audio') out = {packetsReceived: s.packetsReceived || 0, audioLevel: s.audioLevel || 0, mos: 0}; });
      return out;
    },
    state() { return JSON.parse(JSON.stringify(st)); },
    async signOut() { await cmd('sign_out'); st.phone = 'unregistered'; },
  };
  window.agentbar = bar;
  window.agentbarReady = true;
  status('ready');
})();
</script></body></html>`

// TestHarnessSelfTest proves the harness without the bar: a stand-in page
// signs in over the real control channel from Chromium, getUserMedia gets
// the fake microphone, a loopback RTCPeerConnection carries its audio,
// events reach the collector and browser contexts are isolated.
func TestHarnessSelfTest(t *testing.T) {
	t0 := time.Now()
	e := startEnv(t, nil)
	tStarted := time.Since(t0)
	b := e.openBar(t, "selftest-1001", "/e2e/selftest.html")
	tOpen := time.Since(t0) - tStarted

	b.do(t, "signIn", "1001", "pw1001")
	b.expect(t, "channel.open", nil)
	b.saw(t, "phone.registered", nil)
	b.expectState(t, "not_ready")
	if st := b.state(t); st.Agent != "1001" || st.State != "not_ready" {
		t.Fatalf("state after sign-in %+v", st)
	}
	b.do(t, "setReady")
	b.expectState(t, "ready")

	tAnswer := time.Now()
	b.do(t, "answer")
	b.expect(t, "call.answered", func(ev barEvent) bool { return ev.callID() == "loopback" })
	dAudio := eventually(t, waitTimeout, "loopback audio from the fake microphone", b.hears(t))
	st := b.stats(t)
	t.Logf("browser up in %v, tab open in %v; loopback audio %v after answer (%v to the first level): %.0f packets, level %.3f",
		tStarted.Round(time.Millisecond), tOpen.Round(time.Millisecond), time.Since(tAnswer).Round(time.Millisecond), dAudio.Round(time.Millisecond), st.PacketsReceived, st.AudioLevel)

	// What the fake microphone sends: a tone in bursts, so a level
	// sampled at one instant may be zero while the source is live.
	var n, loud int
	var peak float64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); <-tick.C {
		st := b.stats(t)
		n++
		if st.AudioLevel > 0.01 {
			loud++
		}
		peak = max(peak, st.AudioLevel)
	}
	t.Logf("fake microphone over 2 s: %d of %d samples above 0.01, peak level %.3f, %.0f packets", loud, n, peak, b.stats(t).PacketsReceived)

	// A second browser context shares nothing with the first.
	if _, err := evaluate[bool](b, `(localStorage.setItem('e2e', 'one'), true)`); err != nil {
		t.Fatal(err)
	}
	b2 := e.openBar(t, "selftest-other", "/e2e/selftest.html")
	if v, err := evaluate[*string](b2, `localStorage.getItem('e2e')`); err != nil || v != nil {
		t.Fatalf("second browser context sees the first one's storage: %v %v", v, err)
	}

	// The collector survives a reload (it is installed on every document).
	b.reload(t)
	b.do(t, "signIn", "1001", "pw1001")
	b.expect(t, "channel.open", nil)
	b.do(t, "signOut")
	b.expectState(t, "signed_out")
	b.do(t, "signIn", "1001", "pw1001")
	b.expectState(t, "not_ready")
	b.do(t, "signOut")
	b.expectState(t, "signed_out")
}
