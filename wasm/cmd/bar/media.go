//go:build js && wasm

package main

import (
	"context"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"github.com/pion/webrtc/v3"

	"github.com/agentbar/agentbar/sip"
	"github.com/agentbar/agentbar/wasm/core"
)

// callStats is what agentbar.stats() reports.
type callStats struct {
	PacketsReceived int64   `json:"packetsReceived"`
	PacketsLost     int64   `json:"packetsLost"`
	AudioLevel      float64 `json:"audioLevel"`
	JitterMs        float64 `json:"jitterMs"`
	RTTMs           float64 `json:"rttMs"`
	MOS             float64 `json:"mos"`
}

// media is one call's audio: pion's RTCPeerConnection wrapper for the
// offer/answer, and the browser's own APIs through pc.JSValue() for what
// pion's wasm build lacks (tracks, stats, DTMF). It implements sip.Media.
//
// The microphone may come after the peer connection: its track goes on
// the audio transceiver's sender with replaceTrack (no renegotiation)
// whenever both are there, so that an answer need not wait for
// getUserMedia (see newMedia).
type media struct {
	pc     *webrtc.PeerConnection
	audio  js.Value // the <audio> element that plays the far end
	onPlay func(err error)
	funcs  []js.Func

	micMu   sync.Mutex
	stream  js.Value      // the microphone, once open
	device  string        // its deviceId as asked ("" for the default)
	sender  js.Value      // RTCRtpSender of the audio transceiver, once there is one
	muted   bool          // the microphone track is disabled
	closed  bool          // Close ran: a microphone opened later is stopped
	micDone chan struct{} // closed once the microphone opened or failed
	micErr  error         // why it failed; read after micDone

	mu       sync.Mutex // negotiations, one at a time
	statsMu  sync.Mutex
	stats    callStats
	remote   js.Value // the far end's stream, once set on audio
	prevRecv int64
	prevLost int64
	stop     chan struct{}
	once     sync.Once
}

var _ sip.Media = (*media)(nil)

// newMedia sets up a peer connection that plays what arrives into audio,
// with the microphone (deviceID "" for the default). With micFirst it
// opens the microphone first and fails if it cannot; otherwise (the page
// already has the microphone permission) it opens it meanwhile, and
// micReady tells how that went.
//
// micFirst is for a page without the permission yet: Chromium gives a
// peer connection made before that only mDNS names for its local
// addresses, which a call center does not resolve.
func newMedia(ctx context.Context, deviceID string, micFirst bool, audio js.Value, onPlay func(error)) (*media, error) {
	m := &media{device: deviceID, audio: audio, onPlay: onPlay, stop: make(chan struct{}), micDone: make(chan struct{})}
	if micFirst {
		if err := m.openMic(deviceID); err != nil {
			return nil, err
		}
	}
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		m.closeMic()
		return nil, errorf("media", "peer connection: %v", err)
	}
	m.pc = pc
	raw := pc.JSValue()
	ontrack := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ev := arg0(args)
		streams := ev.Get("streams")
		var src js.Value
		if streams.Length() > 0 {
			src = streams.Index(0)
		} else {
			src = js.Global().Get("MediaStream").New(js.ValueOf([]any{ev.Get("track")}))
		}
		audio.Set("srcObject", src)
		m.statsMu.Lock()
		m.remote = src
		m.statsMu.Unlock()
		go func() {
			_, err := await(audio.Call("play"))
			if m.onPlay != nil {
				m.onPlay(err)
			}
		}()
		return nil
	})
	m.funcs = append(m.funcs, ontrack)
	raw.Set("ontrack", ontrack)
	if !micFirst {
		go m.openMic(deviceID)
	}
	go m.poll()
	return m, nil
}

// openMic opens the microphone and puts its track on the sender if the
// transceiver is there already (else bindSender will).
func (m *media) openMic(deviceID string) error {
	defer close(m.micDone)
	stream, err := getMicrophone(deviceID)
	m.micMu.Lock()
	if err == nil && m.closed {
		err = errorf("media", "closed")
	}
	if err != nil {
		m.micErr = err
		m.micMu.Unlock()
		stopStream(stream)
		return err
	}
	m.stream = stream
	setEnabled(stream, !m.muted)
	sender := m.sender
	m.micMu.Unlock()
	if sender.Truthy() {
		return m.attach(sender, stream)
	}
	return nil
}

// micReady waits for the microphone: nil once it is open.
func (m *media) micReady(ctx context.Context) error {
	select {
	case <-m.micDone:
		return m.micErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// bindSender takes the audio transceiver (the remote offer's, else a new
// one) to send on, and puts the microphone on it if it is open already.
func (m *media) bindSender() error {
	m.micMu.Lock()
	if m.sender.Truthy() {
		m.micMu.Unlock()
		return nil
	}
	raw := m.pc.JSValue()
	var t js.Value
	err := call(func() {
		ts := raw.Call("getTransceivers")
		for i := 0; i < ts.Length(); i++ {
			if x := ts.Index(i); x.Get("receiver").Get("track").Get("kind").String() == "audio" {
				t = x
				break
			}
		}
		if !t.Truthy() {
			t = raw.Call("addTransceiver", "audio", map[string]any{"direction": "sendrecv"})
		}
		t.Set("direction", "sendrecv")
		m.sender = t.Get("sender")
	})
	sender, stream := m.sender, m.stream
	m.micMu.Unlock()
	if err != nil {
		return errorf("media", "audio transceiver: %v", err)
	}
	if stream.Truthy() {
		return m.attach(sender, stream)
	}
	return nil
}

// attach sends the microphone's track on sender.
func (m *media) attach(sender, stream js.Value) error {
	var p js.Value
	err := call(func() { p = sender.Call("replaceTrack", stream.Call("getAudioTracks").Index(0)) })
	if err == nil {
		_, err = await(p)
	}
	if err != nil {
		return errorf("media", "replaceTrack: %v", err)
	}
	return nil
}

// closeMic stops the microphone, now or once it opens.
func (m *media) closeMic() {
	m.micMu.Lock()
	m.closed = true
	stream := m.stream
	m.micMu.Unlock()
	stopStream(stream)
}

// getMicrophone asks for audio only, from the chosen device if any.
func getMicrophone(deviceID string) (js.Value, error) {
	md := js.Global().Get("navigator").Get("mediaDevices")
	if md.IsUndefined() {
		return js.Value{}, errorf("media", "no mediaDevices: the page needs a secure context (https or localhost)")
	}
	var constraints any = true
	if deviceID != "" {
		constraints = map[string]any{"deviceId": map[string]any{"exact": deviceID}}
	}
	var p js.Value
	if err := call(func() { p = md.Call("getUserMedia", map[string]any{"audio": constraints, "video": false}) }); err != nil {
		return js.Value{}, errorf("media", "getUserMedia: %v", err)
	}
	stream, err := await(p)
	if err != nil {
		return js.Value{}, errorf("media", "microphone: %v", err)
	}
	return stream, nil
}

func stopStream(stream js.Value) {
	if stream.Truthy() {
		tracks := stream.Call("getTracks")
		for i := 0; i < tracks.Length(); i++ {
			tracks.Index(i).Call("stop")
		}
	}
}

// Offer makes a local offer with every ICE candidate in it.
func (m *media) Offer(ctx context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.rollback(); err != nil {
		return nil, err
	}
	if err := m.bindSender(); err != nil {
		return nil, err
	}
	offer, err := m.pc.CreateOffer(nil)
	if err != nil {
		return nil, errorf("media", "createOffer: %v", err)
	}
	return m.setLocal(ctx, offer)
}

// Answer applies the far end's offer (first or a re-offer: hold, resume)
// and returns our answer.
func (m *media) Answer(ctx context.Context, offer []byte) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.rollback(); err != nil {
		return nil, err
	}
	if err := m.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(offer)}); err != nil {
		return nil, errorf("media", "remote offer: %v", err)
	}
	if err := m.bindSender(); err != nil {
		return nil, err
	}
	answer, err := m.pc.CreateAnswer(nil)
	if err != nil {
		return nil, errorf("media", "createAnswer: %v", err)
	}
	return m.setLocal(ctx, answer)
}

// SetAnswer applies the far end's answer; a provisional one (early media)
// as a pranswer that the final answer confirms.
func (m *media) SetAnswer(_ context.Context, answer []byte, provisional bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.pc.SignalingState()
	if st == webrtc.SignalingStateStable {
		return nil // the same answer again (18x then 200 with one SDP)
	}
	typ := webrtc.SDPTypeAnswer
	if provisional {
		typ = webrtc.SDPTypePranswer
	}
	if err := m.pc.SetRemoteDescription(webrtc.SessionDescription{Type: typ, SDP: string(answer)}); err != nil {
		return errorf("media", "remote answer: %v", err)
	}
	return nil
}

// rollback abandons an unanswered offer of ours (glare: the far end wins).
func (m *media) rollback() error {
	if m.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		return nil
	}
	if err := m.pc.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback}); err != nil {
		return errorf("media", "rollback: %v", err)
	}
	return nil
}

// setLocal applies a local description and waits for ICE gathering (no
// trickle over SIP), up to a few seconds.
func (m *media) setLocal(ctx context.Context, desc webrtc.SessionDescription) ([]byte, error) {
	gathered, stop := candidatesReady(m.pc)
	defer stop()
	if err := m.pc.SetLocalDescription(desc); err != nil {
		return nil, errorf("media", "setLocalDescription: %v", err)
	}

	select {
	case <-gathered:
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	ld := m.pc.LocalDescription()
	if ld == nil {
		return nil, errorf("media", "no local description")
	}
	return []byte(ld.SDP), nil
}

// hostQuiet is how long candidatesReady waits after the last candidate
// once host UDP candidates have come.
const hostQuiet = 5 * time.Millisecond

// candidatesReady is closed once the local description holds the
// candidates worth sending (no trickle over SIP): when ICE gathering is
// complete, or, sooner, once host UDP candidates have come and none
// followed for hostQuiet. The bar's peer connection has no STUN or TURN
// server, so its useful candidates are the host UDP ones, which Chromium
// gathers for every network at once; its next step, some 100 ms later,
// only adds active TCP candidates, of no use to a call center that does
// ICE over UDP, and gathering completes after it. Waiting for that
// would delay every answer (and an early answer's ICE and DTLS) by as
// much. stop releases the listener.
//
// It listens with the browser's own onicecandidate, not pion's wrapper,
// which parses every candidate with pion's ICE and STUN code (some 270 kB
// of wasm, 50 kB brotli), and with the icegatheringstatechange event.
// It is set up before the description is applied, and is already closed
// when gathering was complete (a re-offer).
func candidatesReady(pc *webrtc.PeerConnection) (<-chan struct{}, func()) {
	done := make(chan struct{})
	var once sync.Once
	finish := func() { once.Do(func() { close(done) }) }
	check := func() {
		if pc.ICEGatheringState() == webrtc.ICEGatheringStateComplete {
			finish()
		}
	}
	pc.OnICEGatheringStateChange(check)
	var mu sync.Mutex
	var quiet *time.Timer
	onCandidate := js.FuncOf(func(_ js.Value, args []js.Value) any {
		c := arg0(args).Get("candidate")
		if !c.Truthy() {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case quiet != nil:
			quiet.Reset(hostQuiet)
		case str(c, "protocol") == "udp" && str(c, "type") == "host":
			quiet = time.AfterFunc(hostQuiet, finish)
		}
		return nil
	})
	raw := pc.JSValue()
	raw.Set("onicecandidate", onCandidate)
	check()
	return done, func() {
		raw.Set("onicecandidate", js.Null())
		onCandidate.Release()
		mu.Lock()
		if quiet != nil {
			quiet.Stop()
		}
		mu.Unlock()
	}
}

// Mute disables or enables the microphone track: the far end gets
// silence. It holds for a microphone that opens later too.
func (m *media) Mute(on bool) {
	m.micMu.Lock()
	m.muted = on
	stream := m.stream
	m.micMu.Unlock()
	setEnabled(stream, !on)
}

func setEnabled(stream js.Value, on bool) {
	if !stream.Truthy() {
		return
	}
	tracks := stream.Call("getAudioTracks")
	for i := 0; i < tracks.Length(); i++ {
		tracks.Index(i).Set("enabled", on)
	}
}

// SendDTMF plays digits in band (RFC 4733) through RTCDTMFSender; false
// when the browser or the negotiation cannot.
func (m *media) SendDTMF(digits string) bool {
	m.micMu.Lock()
	sender := m.sender
	m.micMu.Unlock()
	if !sender.Truthy() {
		return false
	}
	dtmf := sender.Get("dtmf")
	if !dtmf.Truthy() || !dtmf.Get("canInsertDTMF").Truthy() {
		return false
	}
	return call(func() { dtmf.Call("insertDTMF", digits, 120, 70) }) == nil
}

// UseMicrophone switches the call to another microphone.
func (m *media) UseMicrophone(deviceID string) error {
	<-m.micDone
	stream, err := getMicrophone(deviceID)
	if err != nil {
		return err
	}
	m.micMu.Lock()
	sender, muted := m.sender, m.muted
	m.micMu.Unlock()
	setEnabled(stream, !muted)
	if sender.Truthy() {
		if err := m.attach(sender, stream); err != nil {
			stopStream(stream)
			return err
		}
	}
	m.micMu.Lock()
	old := m.stream
	m.stream, m.device = stream, deviceID
	closed := m.closed
	m.micMu.Unlock()
	stopStream(old)
	if closed {
		stopStream(stream)
	}
	return nil
}

// Stats is the latest sample.
func (m *media) Stats() callStats {
	m.statsMu.Lock()
	defer m.statsMu.Unlock()
	return m.stats
}

// poll samples getStats once a second for the live MOS.
func (m *media) poll() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		var p js.Value
		if call(func() { p = m.pc.JSValue().Call("getStats") }) != nil {
			continue
		}
		report, err := await(p)
		if err != nil {
			continue
		}
		m.sample(report)
	}
}

// sample reads inbound-rtp (packets, loss, jitter, level) and the
// selected candidate pair's round-trip time from one report.
func (m *media) sample(report js.Value) {
	var s callStats
	var rtt float64
	each := js.FuncOf(func(_ js.Value, args []js.Value) any {
		r := arg0(args)
		switch str(r, "type") {
		case "inbound-rtp":
			if str(r, "kind") == "audio" || str(r, "mediaType") == "audio" {
				s.PacketsReceived = int64(num(r, "packetsReceived"))
				s.PacketsLost = int64(num(r, "packetsLost"))
				s.JitterMs = num(r, "jitter") * 1000
				s.AudioLevel = num(r, "audioLevel")
			}
		case "candidate-pair":
			if str(r, "state") == "succeeded" && r.Get("nominated").Truthy() {
				if v := num(r, "currentRoundTripTime"); v > 0 {
					rtt = v
				}
			}
		case "remote-inbound-rtp":
			if rtt == 0 {
				rtt = num(r, "roundTripTime")
			}
		}
		return nil
	})
	defer each.Release()
	report.Call("forEach", each)
	s.RTTMs = rtt * 1000
	m.statsMu.Lock()
	defer m.statsMu.Unlock()
	loss := core.LossPercent(m.prevRecv, m.prevLost, s.PacketsReceived, s.PacketsLost)
	m.prevRecv, m.prevLost = s.PacketsReceived, s.PacketsLost
	if s.PacketsReceived > 0 {
		s.MOS = core.MOS(time.Duration(s.RTTMs*float64(time.Millisecond)), time.Duration(s.JitterMs*float64(time.Millisecond)), loss)
	}
	m.stats = s
}

// Close hangs up the media: the peer connection, the microphone, the audio.
func (m *media) Close() {
	m.once.Do(func() {
		close(m.stop)
		m.pc.Close()
		m.closeMic()
		m.statsMu.Lock()
		remote := m.remote
		m.statsMu.Unlock()
		// Only this media's stream: another call's may play there now.
		if m.audio.Truthy() && remote.Truthy() && m.audio.Get("srcObject").Equal(remote) {
			m.audio.Set("srcObject", js.Null())
		}
		for _, f := range m.funcs {
			f.Release()
		}
	})
}

// isAutoplayBlock tells whether play() failed because the page has had no
// user gesture yet.
func isAutoplayBlock(err error) bool {
	return err != nil && strings.Contains(err.Error(), "NotAllowedError")
}
