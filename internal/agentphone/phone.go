// Package agentphone is a native agent soft phone for tests: the sip UA's
// Media on pion, playing a voice-like signal and measuring what it hears.
//
// A Phone stands in for an agent's browser. It answers and makes offers
// like one (DTLS-SRTP, ICE without trickle, PCMU and telephone-event),
// follows the call center's re-offers (hold with a=sendonly, resume with
// a=sendrecv) on the same PeerConnection, and sends DTMF as RFC 4733
// events the way RTCDTMFSender does.
package agentphone

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentbar/agentbar/server/media"
	"github.com/agentbar/agentbar/sip"
)

// Config configures a Phone.
type Config struct {
	// LoopbackCandidates also gathers ICE host candidates on loopback
	// interfaces (needed when both ends run on one host without a network).
	LoopbackCandidates bool
}

// Phone is the media of one call. It implements sip.Media.
type Phone struct {
	leg    *media.WebRTCLeg
	voice  *media.SimParty
	muted  atomic.Bool
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
	err    error
}

var _ sip.Media = (*Phone)(nil)

// New creates a phone and starts its voice, which goes out as soon as a
// negotiation lets it.
func New(cfg Config) (*Phone, error) {
	leg, err := media.NewWebRTCLeg(media.WebRTCConfig{LoopbackCandidates: cfg.LoopbackCandidates})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Phone{
		leg:    leg,
		voice:  media.NewSimParty(time.Now().UnixNano()),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go p.talk(ctx)
	return p, nil
}

// talk sends the voice, one frame per 20 ms (silence while muted).
func (p *Phone) talk(ctx context.Context) {
	defer close(p.done)
	for {
		f, err := p.voice.ReadFrame(ctx)
		if err != nil {
			return
		}
		if p.muted.Load() {
			f = media.Frame{}
		}
		if err := p.leg.WriteFrame(f); errors.Is(err, media.ErrClosed) {
			return
		}
	}
}

// Offer returns a sendrecv offer with all ICE candidates.
func (p *Phone) Offer(ctx context.Context) ([]byte, error) {
	return p.leg.Offer(ctx, media.SendRecv)
}

// Answer applies the call center's offer (the first one or a re-offer on
// the same call) and returns the answer.
func (p *Phone) Answer(ctx context.Context, offer []byte) ([]byte, error) {
	return p.leg.Answer(ctx, offer)
}

// SetAnswer applies the answer to our offer. A provisional (early media)
// answer starts the media; the final answer confirms it.
func (p *Phone) SetAnswer(_ context.Context, answer []byte, _ bool) error {
	return p.leg.SetAnswer(answer)
}

// Mute sends silence instead of the voice while on.
func (p *Phone) Mute(on bool) { p.muted.Store(on) }

// SendDTMF sends digits (0-9, *, #, A-D) as RFC 4733 events on the
// negotiated telephone-event payload type (101 when we offered), in the
// background.
func (p *Phone) SendDTMF(digits string) error { return p.leg.SendDTMF(digits) }

// Stats reports packets and levels: LevelIn is what the phone hears,
// LevelOut what it sends.
func (p *Phone) Stats() media.Stats { return p.leg.Stats() }

// Direction is the direction the far end declared last: "sendonly" while
// the call center has us on hold, "sendrecv" in a normal call, "" before
// any negotiation.
func (p *Phone) Direction() string { return p.leg.RemoteDirection() }

// Close hangs up the media.
func (p *Phone) Close() error {
	p.once.Do(func() {
		p.cancel()
		_ = p.voice.Close()
		<-p.done
		p.err = p.leg.Close()
	})
	return p.err
}
