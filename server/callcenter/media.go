package callcenter

import "context"

// Frame is 20 ms of 8 kHz mono audio, the unit ports exchange.
type Frame [160]int16

// PortStats is what a port measured.
type PortStats struct {
	// PacketsIn and PacketsOut count frames received from and sent to the
	// port's far end.
	PacketsIn, PacketsOut uint64
	// LevelIn and LevelOut are the recent audio levels heard and sent
	// (0 silence .. 1 full scale).
	LevelIn, LevelOut float64
}

// Port is one party's audio as the bridge sees it.
type Port interface {
	// ReadFrame returns the next frame the party sent.
	ReadFrame(ctx context.Context) (Frame, error)
	// WriteFrame sends a frame to the party.
	WriteFrame(Frame) error
	// Stats reports what the port measured. It may be called with the call
	// center's lock held.
	Stats() PortStats
	// Close ends the port's media.
	Close() error
}

// DTMFSender is implemented by ports that can play DTMF to their party
// (RFC 4733 events or tones). DTMF for a party whose port lacks it is only
// recorded.
type DTMFSender interface {
	SendDTMF(digit rune) error
}

// Bridge mixes the ports of one call: each port hears the others (mix
// minus). A held port hears hold audio and is not heard. Its methods are
// called with the call center's lock held, so they must not call back into
// the call center.
type Bridge interface {
	Add(Port)
	Remove(Port)
	Hold(p Port, on bool)
	Close()
}

// AgentLeg is the media of a call leg to an agent's phone (WebRTC for the
// browser). The B2BUA offers; the phone answers.
type AgentLeg interface {
	Port
	// Offer returns an SDP offer with the given direction ("sendrecv",
	// "sendonly").
	Offer(ctx context.Context, dir string) ([]byte, error)
	// Answer applies a remote offer (a re-INVITE from the phone) and
	// returns the SDP answer.
	Answer(ctx context.Context, offer []byte) ([]byte, error)
	// SetAnswer applies the phone's answer to the last offer.
	SetAnswer(answer []byte) error
}

// TrunkLeg is the media of a plain RTP party on the trunk (a customer who
// dialled in, or a number we dialled).
type TrunkLeg interface {
	Port
	// Offer returns an SDP offer with the given direction.
	Offer(dir string) []byte
	// Answer applies a remote offer and returns the SDP answer.
	Answer(offer []byte) ([]byte, error)
	// SetAnswer applies the remote answer to our offer.
	SetAnswer([]byte) error
}

// MediaFactory makes the media of calls.
type MediaFactory interface {
	// NewAgentLeg makes the media of a leg to an agent's phone; onDTMF
	// receives the digits the phone sends in the media.
	NewAgentLeg(onDTMF func(digit rune)) (AgentLeg, error)
	// NewTrunkLeg makes the media of a party on the trunk.
	NewTrunkLeg() (TrunkLeg, error)
	// NewCustomer makes a simulated party: a port that plays a voice-like
	// signal and measures what it hears.
	NewCustomer() (Port, error)
	// NewBridge makes the mixer of one call.
	NewBridge() Bridge
}
