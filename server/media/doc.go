// Package media is the audio for the built-in call center: ports that carry
// 20 ms frames of 8 kHz linear PCM between parties, WebRTC agent legs, plain
// RTP trunk legs, simulated customers, tones, mixing and energy metering.
//
// Every party the call center talks to is a [Port]: a [WebRTCLeg] toward an
// agent's browser (DTLS-SRTP on pion), an [RTPLeg] toward a SIP trunk (plain
// RTP/AVP), or a [SimParty] standing in for a customer. A [Bridge] mixes its
// ports every 20 ms, so two ports make a call and more make a conference.
//
// Audio on the wire is G.711 mu-law (PCMU, payload type 0). DTMF travels as
// RFC 4733 telephone-events (payload type 101 in our offers; whatever the
// far end offered in our answers).
//
// # Directions and pion
//
// pion/webrtc v3 keeps its own idea of each transceiver's direction and
// acts on it in ways that do not suit SIP holds: an offer with a=inactive
// stops the transceiver for good, and an answer it writes to a sendonly
// offer still says sendrecv. WebRTCLeg therefore lets pion believe every
// description is sendrecv and does RFC 3264 direction handling itself: it
// rewrites the direction attribute of the audio section in what it sends,
// reads the far end's real direction before normalising what it applies,
// and gates its own sending accordingly.
package media
