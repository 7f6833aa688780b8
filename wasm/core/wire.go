package core

import (
	"encoding/json"
	"time"
)

// Subprotocol is the control channel's WebSocket subprotocol (version 1).
const Subprotocol = "agentbar.v1"

// TokenPrefix marks the subprotocol that carries the JWT at the upgrade.
const TokenPrefix = "access_token."

// AgentState is the agent's state as the server reports it.
type AgentState string

// Agent states of the control channel.
const (
	StateSignedOut AgentState = "signed_out"
	StateReady     AgentState = "ready"
	StateNotReady  AgentState = "not_ready"
	StateRest      AgentState = "rest"
	StateWrapUp    AgentState = "wrap_up"
	StateBusy      AgentState = "busy"
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
	EvAgentState     = "agent.state"
	EvCallIncoming   = "call.incoming"
	EvCallRinging    = "call.ringing"
	EvCallAnswered   = "call.answered"
	EvCallHeld       = "call.held"
	EvCallResumed    = "call.resumed"
	EvCallMuted      = "call.muted"
	EvCallUnmuted    = "call.unmuted"
	EvConsultStarted = "call.consult_started"
	EvConsultEnded   = "call.consult_ended"
	EvTransferred    = "call.transferred"
	EvConferenced    = "call.conferenced"
	EvCallDTMF       = "call.dtmf"
	EvCallEnded      = "call.ended"
	EvNotice         = "session.notice"
)

// Event is one normalized event of the control channel.
type Event struct {
	Type     string     `json:"type"`
	Time     time.Time  `json:"time,omitzero"`
	State    AgentState `json:"state,omitempty"`
	Reason   string     `json:"reason,omitempty"`
	Deadline time.Time  `json:"deadline,omitzero"`
	Call     *CallInfo  `json:"call,omitempty"`
	Cause    string     `json:"cause,omitempty"`
	Digits   string     `json:"digits,omitempty"`
	Code     string     `json:"code,omitempty"`
	Message  string     `json:"message,omitempty"`
}

// CallInfo describes a call: who, which queue, the screen-pop data.
type CallInfo struct {
	ID        string            `json:"id"`
	Direction string            `json:"direction,omitempty"`
	Caller    string            `json:"caller,omitempty"`
	Callee    string            `json:"callee,omitempty"`
	Queue     string            `json:"queue,omitempty"`
	Data      map[string]string `json:"data,omitempty"`
	State     string            `json:"state,omitempty"`
	Since     time.Time         `json:"since,omitzero"`
}

// Snapshot is the agent's state when the channel opens.
type Snapshot struct {
	State    AgentState `json:"state"`
	Reason   string     `json:"reason,omitempty"`
	Deadline time.Time  `json:"deadline,omitzero"`
	Calls    []CallInfo `json:"calls,omitempty"`
}

// Reason is a not-ready or rest reason the server offers.
type Reason struct {
	Code  string `json:"code"`
	Label string `json:"label"`
	Rest  bool   `json:"rest,omitempty"`
}

// Target is what a dial, transfer or consult reaches.
type Target struct {
	Kind string `json:"kind"` // agent | queue | number
	ID   string `json:"id"`
}

// ErrorBody is a stable error code and a human message.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *ErrorBody) Error() string { return e.Code + ": " + e.Message }

// SIPCredentials are the short-lived credentials of the soft phone.
type SIPCredentials struct {
	URI      string    `json:"uri"`
	AOR      string    `json:"aor"`
	User     string    `json:"user"`
	Password string    `json:"password"`
	Expires  time.Time `json:"expires"`
}

// ServerMessage is anything the server sends on the control channel.
type ServerMessage struct {
	Type     string          `json:"type"`
	V        int             `json:"v,omitempty"`
	ID       string          `json:"id,omitempty"`
	OK       *bool           `json:"ok,omitempty"`
	Error    *ErrorBody      `json:"error,omitempty"`
	Agent    string          `json:"agent,omitempty"`
	Seq      uint64          `json:"seq,omitempty"`
	Event    json.RawMessage `json:"event,omitempty"`
	Snapshot *Snapshot       `json:"snapshot,omitempty"`
	Reasons  []Reason        `json:"reasons,omitempty"`
	SIP      *SIPCredentials `json:"sip,omitempty"`
	Expires  *time.Time      `json:"expires,omitempty"`
}

// Command is one message the bar sends: a command ({"type":"cmd"}),
// the first-message authentication ({"type":"auth"}) or a fresh token.
type Command struct {
	Type    string  `json:"type"`
	ID      string  `json:"id,omitempty"`
	Op      string  `json:"op,omitempty"`
	Token   string  `json:"token,omitempty"`
	Resume  *uint64 `json:"resume,omitempty"` // auth: the last seq seen
	CallID  string  `json:"call_id,omitempty"`
	Reason  string  `json:"reason,omitempty"`
	Target  *Target `json:"target,omitempty"`
	Digits  string  `json:"digits,omitempty"`
	Force   bool    `json:"force,omitempty"`
	Seconds int     `json:"seconds,omitempty"`
}

// ValidDigits reports whether s is a DTMF string the server accepts:
// 1 to 32 of 0-9 * # A-D.
func ValidDigits(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9', r == '*', r == '#', r >= 'A' && r <= 'D':
		default:
			return false
		}
	}
	return true
}
