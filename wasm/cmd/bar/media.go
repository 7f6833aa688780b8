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
type media struct {
	pc     *webrtc.PeerConnection
	stream js.Value // the microphone
	sender js.Value // RTCRtpSender of the microphone track
	audio  js.Value // the <audio> element that plays the far end
	onPlay func(err error)
	funcs  []js.Func

	mu       sync.Mutex // negotiations, one at a time
	statsMu  sync.Mutex
	stats    callStats
	prevRecv int64
	prevLost int64
	stop     chan struct{}
	once     sync.Once
}

var _ sip.Media = (*media)(nil)

// newMedia opens the microphone (deviceID "" for the default) and sets up
// a peer connection that plays what arrives into audio.
func newMedia(ctx context.Context, deviceID string, audio js.Value, onPlay func(error)) (*media, error) {
	stream, err := getMicrophone(deviceID)
	if err != nil {
		return nil, err
	}
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		stopStream(stream)
		return nil, errorf("media", "peer connection: %v", err)
	}
	m := &media{pc: pc, stream: stream, audio: audio, onPlay: onPlay, stop: make(chan struct{})}
	raw := pc.JSValue()
	track := stream.Call("getAudioTracks").Index(0)
	if err := call(func() { m.sender = raw.Call("addTrack", track, stream) }); err != nil {
		m.Close()
		return nil, errorf("media", "addTrack: %v", err)
	}
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
	go m.poll()
	return m, nil
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
	gathered := gatheringComplete(m.pc)
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

// gatheringComplete is closed once ICE gathering is complete, as
// webrtc.GatheringCompletePromise, but from the icegatheringstatechange
// event: the promise listens to onicecandidate, whose wrapper parses every
// candidate with pion's ICE and STUN code, which costs the wasm some 270 kB
// (50 kB brotli). Like the promise it is created before the description is set
// and is already closed if gathering was complete (a re-offer).
func gatheringComplete(pc *webrtc.PeerConnection) <-chan struct{} {
	done := make(chan struct{})
	var once sync.Once
	check := func() {
		if pc.ICEGatheringState() == webrtc.ICEGatheringStateComplete {
			once.Do(func() { close(done) })
		}
	}
	pc.OnICEGatheringStateChange(check)
	check()
	return done
}

// Mute disables or enables the microphone track: the far end gets silence.
func (m *media) Mute(on bool) {
	tracks := m.stream.Call("getAudioTracks")
	for i := 0; i < tracks.Length(); i++ {
		tracks.Index(i).Set("enabled", !on)
	}
}

// SendDTMF plays digits in band (RFC 4733) through RTCDTMFSender; false
// when the browser or the negotiation cannot.
func (m *media) SendDTMF(digits string) bool {
	dtmf := m.sender.Get("dtmf")
	if !dtmf.Truthy() || !dtmf.Get("canInsertDTMF").Truthy() {
		return false
	}
	return call(func() { dtmf.Call("insertDTMF", digits, 120, 70) }) == nil
}

// UseMicrophone switches the call to another microphone.
func (m *media) UseMicrophone(deviceID string) error {
	stream, err := getMicrophone(deviceID)
	if err != nil {
		return err
	}
	track := stream.Call("getAudioTracks").Index(0)
	if _, err := await(m.sender.Call("replaceTrack", track)); err != nil {
		stopStream(stream)
		return errorf("media", "replaceTrack: %v", err)
	}
	enabled := m.stream.Call("getAudioTracks").Index(0).Get("enabled").Bool()
	track.Set("enabled", enabled)
	stopStream(m.stream)
	m.stream = stream
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
		stopStream(m.stream)
		if m.audio.Truthy() {
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
