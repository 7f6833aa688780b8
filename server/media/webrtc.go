package media

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/pion/ice/v2"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v3"
)

// mimeTypeTelephoneEvent is the RFC 4733 payload format.
const mimeTypeTelephoneEvent = "audio/telephone-event"

// WebRTCConfig configures a WebRTCLeg.
type WebRTCConfig struct {
	// ICEServers are STUN (or credential-less TURN) URLs such as
	// "stun:stun.example.net:3478".
	ICEServers []string
	// LoopbackCandidates also gathers host candidates on loopback
	// interfaces (for tests and single-host setups).
	LoopbackCandidates bool
	// Lite makes the leg an ICE-lite agent (RFC 8445 §2.5): it answers
	// the far end's checks and lets the far end, a full agent such as a
	// browser, nominate the pair, which it does at once, instead of
	// nominating on its own check timer (every 200 ms while connecting).
	// For a server with reachable host candidates; the far end must be a
	// full agent.
	Lite bool
	// OnDTMF, if set, is called with each RFC 4733 digit received, in
	// order, from the leg's receive goroutine. It should return quickly;
	// it may run concurrently with Close.
	OnDTMF func(digit rune)
}

// WebRTCLeg is a WebRTC audio leg toward an agent: ICE (no trickle: every
// description carries all candidates), DTLS-SRTP, PCMU/8000 on payload type
// 0 and telephone-event/8000 (payload type 101 in our offers) for RFC 4733
// DTMF. It implements Port.
//
// One leg is one PeerConnection with one audio transceiver; offers and
// answers on it may repeat (re-INVITEs), which is how holds work. See the
// package documentation for how directions are handled.
type WebRTCLeg struct {
	pc     *webrtc.PeerConnection
	stream *stream
	wg     sync.WaitGroup

	negMu sync.Mutex // serialises Offer, Answer and SetAnswer

	mu       sync.Mutex
	offered  string // direction of our pending offer
	local    string // direction we declared last
	remote   string // direction the far end declared last
	answered []byte // the answer applied to our last offer; a later one only confirms it
}

// NewWebRTCLeg creates a leg with a PeerConnection ready to offer or
// answer.
func NewWebRTCLeg(cfg WebRTCConfig) (*WebRTCLeg, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: SampleRate},
		PayloadType:        0,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTypeTelephoneEvent, ClockRate: SampleRate, SDPFmtpLine: "0-15"},
		PayloadType:        defaultEventPT,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(cfg.LoopbackCandidates)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if cfg.Lite {
		se.SetLite(true)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))

	var conf webrtc.Configuration
	if len(cfg.ICEServers) > 0 {
		conf.ICEServers = []webrtc.ICEServer{{URLs: cfg.ICEServers}}
	}
	pc, err := api.NewPeerConnection(conf)
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	l := &WebRTCLeg{pc: pc, stream: newStream(cfg.OnDTMF)}
	tr, err := pc.AddTransceiverFromTrack(&localTrack{stream: l.stream},
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
	if err != nil {
		l.stream.close()
		_ = pc.Close()
		return nil, fmt.Errorf("media: %w", err)
	}
	sender := tr.Sender()
	l.wg.Add(1)
	go func() {
		// Drain RTCP for the sender (the interceptors read it here).
		defer l.wg.Done()
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	pc.OnTrack(l.onTrack)
	return l, nil
}

// onTrack receives the far end's audio until the connection closes. Close
// does not wait for it, so that OnDTMF may take locks held around Close.
func (l *WebRTCLeg) onTrack(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			if n == 0 {
				return // closed
			}
			continue // a payload type we did not negotiate
		}
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		kind := payloadOther
		switch mime := track.Codec().MimeType; {
		case strings.EqualFold(mime, webrtc.MimeTypePCMU):
			kind = payloadPCMU
		case strings.EqualFold(mime, mimeTypeTelephoneEvent):
			kind = payloadEvent
		}
		l.stream.receive(&p.Header, p.Payload, kind)
	}
}

// Offer creates an offer with direction dir ("sendrecv", "sendonly",
// "recvonly" or "inactive"), waits for ICE gathering to complete and
// returns it. Offers may repeat on the same leg (re-INVITE); an offer that
// was never answered is rolled back first.
func (l *WebRTCLeg) Offer(ctx context.Context, dir string) ([]byte, error) {
	if !isDirection(dir) {
		return nil, fmt.Errorf("media: bad direction %q", dir)
	}
	l.negMu.Lock()
	defer l.negMu.Unlock()
	if err := l.rollback(); err != nil {
		return nil, err
	}
	offer, err := l.pc.CreateOffer(nil)
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	sdp, err := l.setLocal(ctx, offer)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.offered, l.answered = dir, nil
	l.mu.Unlock()
	return withDirection(sdp, dir), nil
}

// Answer applies a remote offer and returns the answer, complete with
// candidates. The answer's direction follows RFC 3264: recvonly to a
// sendonly offer (a hold), sendonly to recvonly, inactive to inactive.
func (l *WebRTCLeg) Answer(ctx context.Context, offer []byte) ([]byte, error) {
	remote := sdpDirection(offer)
	l.negMu.Lock()
	defer l.negMu.Unlock()
	// Glare: the far end's offer wins here (SIP settles who retries).
	if err := l.rollback(); err != nil {
		return nil, err
	}
	if err := l.pc.SetRemoteDescription(webrtc.SessionDescription{
		Type: webrtc.SDPTypeOffer,
		SDP:  string(withDirection(offer, SendRecv)),
	}); err != nil {
		return nil, fmt.Errorf("media: remote offer: %w", err)
	}
	answer, err := l.pc.CreateAnswer(nil)
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	sdp, err := l.setLocal(ctx, answer)
	if err != nil {
		return nil, err
	}
	local := answerDirection(remote)
	l.mu.Lock()
	l.offered, l.answered = "", nil
	l.local, l.remote = local, remote
	l.mu.Unlock()
	l.stream.setSend(canSend(local, remote))
	return withDirection(sdp, local), nil
}

// SetAnswer applies the far end's answer to our last offer. A provisional
// answer (SIP 18x) and the final one may both come through here: pion v3
// cannot apply a pranswer, so the first answer is applied as final and a
// later one only updates the direction; it must keep the same ICE
// credentials.
func (l *WebRTCLeg) SetAnswer(answer []byte) error {
	remote := sdpDirection(answer)
	l.negMu.Lock()
	defer l.negMu.Unlock()
	l.mu.Lock()
	offered, answered := l.offered, l.answered
	l.mu.Unlock()
	switch {
	case offered == "":
		return errors.New("media: answer without an offer")
	case l.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer:
		if err := l.pc.SetRemoteDescription(webrtc.SessionDescription{
			Type: webrtc.SDPTypeAnswer,
			SDP:  string(withDirection(answer, SendRecv)),
		}); err != nil {
			return fmt.Errorf("media: remote answer: %w", err)
		}
	case answered != nil:
		if sdpAttribute(answer, "ice-ufrag") != sdpAttribute(answered, "ice-ufrag") {
			return errors.New("media: a second answer to one offer changes the ICE session")
		}
	default:
		return fmt.Errorf("media: answer in signaling state %s", l.pc.SignalingState())
	}
	l.mu.Lock()
	l.answered = answer
	l.local, l.remote = offered, remote
	l.mu.Unlock()
	l.stream.setSend(canSend(offered, remote))
	return nil
}

// rollback abandons an offer of ours that was never answered. pion v3
// wants a parsable description even for a rollback.
func (l *WebRTCLeg) rollback() error {
	if l.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		return nil
	}
	pending := l.pc.PendingLocalDescription()
	if pending == nil {
		return nil
	}
	if err := l.pc.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback, SDP: pending.SDP}); err != nil {
		return fmt.Errorf("media: rollback: %w", err)
	}
	return nil
}

// setLocal applies a local description, waits for ICE gathering and
// returns the description with candidates.
func (l *WebRTCLeg) setLocal(ctx context.Context, d webrtc.SessionDescription) ([]byte, error) {
	gathered := webrtc.GatheringCompletePromise(l.pc)
	if err := l.pc.SetLocalDescription(d); err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return nil, fmt.Errorf("media: ICE gathering: %w", ctx.Err())
	}
	return []byte(l.pc.LocalDescription().SDP), nil
}

// RemoteDirection is the direction the far end declared in its last
// description ("" before any): "sendonly" when it put us on hold.
func (l *WebRTCLeg) RemoteDirection() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.remote
}

// LocalDirection is the direction we declared in our last negotiated
// description ("" before any).
func (l *WebRTCLeg) LocalDirection() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.local
}

// ConnectionState is the PeerConnection's state ("new", "connecting",
// "connected", "disconnected", "failed", "closed").
func (l *WebRTCLeg) ConnectionState() string { return l.pc.ConnectionState().String() }

// ReadFrame returns the next 20 ms received, or silence after one frame
// period without any.
func (l *WebRTCLeg) ReadFrame(ctx context.Context) (Frame, error) { return l.stream.readFrame(ctx) }

// WriteFrame sends 20 ms when the connection is up and the negotiated
// directions allow sending; otherwise the frame is dropped.
func (l *WebRTCLeg) WriteFrame(f Frame) error { return l.stream.writeFrame(&f) }

// SendDTMF sends digits (0-9, *, #, A-D) as RFC 4733 events on the
// negotiated telephone-event payload type, in the background, as a
// browser's RTCDTMFSender does: 100 ms per digit, 60 ms between digits.
func (l *WebRTCLeg) SendDTMF(digits string) error { return l.stream.sendDTMF(digits) }

// Stats reports packets, levels and received digits.
func (l *WebRTCLeg) Stats() Stats { return l.stream.stats() }

// Close closes the PeerConnection. It waits for the leg's own goroutines
// but not for an OnDTMF callback in progress; the receive goroutine ends
// right after.
func (l *WebRTCLeg) Close() error {
	l.stream.close()
	err := l.pc.Close()
	l.wg.Wait()
	return err
}

// localTrack is the leg's outgoing audio as pion sees it. Unlike pion's
// static tracks, which stamp every packet with the one payload type bound,
// it hands the stream the raw writer so audio and telephone-events share
// the SSRC and sequence numbers with their own payload types.
type localTrack struct {
	stream *stream
}

// Bind picks PCMU and notes the telephone-event payload type, if any.
func (t *localTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	var (
		pcmu      *webrtc.RTPCodecParameters
		eventPT   uint8
		haveEvent bool
	)
	for _, c := range ctx.CodecParameters() {
		switch {
		case pcmu == nil && strings.EqualFold(c.MimeType, webrtc.MimeTypePCMU):
			pcmu = &c
		case !haveEvent && strings.EqualFold(c.MimeType, mimeTypeTelephoneEvent):
			eventPT, haveEvent = uint8(c.PayloadType), true
		}
	}
	if pcmu == nil {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	w := ctx.WriteStream()
	t.stream.bind(w.WriteRTP, uint32(ctx.SSRC()), uint8(pcmu.PayloadType), eventPT, haveEvent)
	return *pcmu, nil
}

// Unbind stops sending.
func (t *localTrack) Unbind(webrtc.TrackLocalContext) error {
	t.stream.bind(nil, 0, 0, 0, false)
	return nil
}

// ID is the track id.
func (t *localTrack) ID() string { return "audio" }

// RID is empty: no simulcast.
func (t *localTrack) RID() string { return "" }

// StreamID is the media stream id.
func (t *localTrack) StreamID() string { return "agentbar" }

// Kind is audio.
func (t *localTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeAudio }
