package core

import (
	"github.com/agentbar/agentbar/proxy/control/wire"
	"github.com/agentbar/agentbar/proxy/gateway"
)

// The control channel's protocol is proxy/control/wire, and its events are
// proxy/gateway's: the bar uses the very types the proxy sends, so the two
// ends cannot drift apart.
type (
	AgentState     = gateway.AgentState
	Event          = gateway.Event
	CallInfo       = gateway.CallInfo
	Snapshot       = gateway.Snapshot
	Reason         = gateway.Reason
	Target         = gateway.Target
	ErrorBody      = wire.ErrorBody
	SIPCredentials = wire.SIPCredentials
	SIPAddress     = wire.SIPAddress
	ServerMessage  = wire.ServerMessage
	Stats          = gateway.Stats
	QueueStats     = gateway.QueueStats
	AgentStats     = gateway.AgentStats
	// Command is one message the bar sends: a command ({"type":"cmd"}),
	// the first-message authentication ({"type":"auth"}) or a fresh token.
	Command = wire.ClientMessage
)

// Protocol constants, from wire.
const (
	Subprotocol = wire.Subprotocol
	TokenPrefix = wire.TokenPrefix
)

// Agent states of the control channel.
const (
	StateSignedOut = gateway.StateSignedOut
	StateReady     = gateway.StateReady
	StateNotReady  = gateway.StateNotReady
	StateRest      = gateway.StateRest
	StateWrapUp    = gateway.StateWrapUp
	StateBusy      = gateway.StateBusy
)

// Call states as the server reports them in CallInfo.State.
const (
	CallRinging    = "ringing"
	CallTalking    = "talking"
	CallHeld       = "held"
	CallConsulting = "consulting"
	CallConference = "conference"
	CallEnded      = "ended"
)

// Event types the bar folds into its state (others are passed on as is).
const (
	EvAgentState     = gateway.EvAgentState
	EvCallIncoming   = gateway.EvCallIncoming
	EvCallRinging    = gateway.EvCallRinging
	EvCallAnswered   = gateway.EvCallAnswered
	EvCallHeld       = gateway.EvCallHeld
	EvCallResumed    = gateway.EvCallResumed
	EvCallMuted      = gateway.EvCallMuted
	EvCallUnmuted    = gateway.EvCallUnmuted
	EvConsultStarted = gateway.EvConsultStarted
	EvConsultEnded   = gateway.EvConsultEnded
	EvTransferred    = gateway.EvCallTransferred
	EvConferenced    = gateway.EvConferenced
	EvCallDTMF       = gateway.EvDTMF
	EvCallEnded      = gateway.EvCallEnded
	EvNotice         = gateway.EvNotice
)

// ValidDigits reports whether s is a DTMF string the server accepts.
func ValidDigits(s string) bool { return wire.ValidDigits(s) }
