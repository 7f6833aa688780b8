// Package gateway is the vendor-neutral contract between the proxy and a
// contact center's CTI: the commands an agent bar sends, the normalized
// events it receives, and the adapter interface each vendor implements
// (local, Huawei CEC, Tinet Clink, Alibaba CCC).
//
// The shape fits all three source vendors: a Session hides Huawei's Guid and
// long-poll loop, Clink's signed REST and pushes, and Alibaba's signed RPC
// and status polling; Do maps one neutral command to the vendor's operation;
// events arrive on a callback in order, already normalized. Secrets (CTI
// passwords, AK/SK, Guid) live inside the adapter and never appear in a
// Command, an Event or an error.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Gateway signs agents in to one contact center.
type Gateway interface {
	// SignIn starts the agent's CTI session; events flow to sink, in order
	// and from one goroutine at a time, until the session ends. The agent
	// starts not ready unless the vendor says otherwise (the first event
	// is the state).
	SignIn(ctx context.Context, agent string, opts SignInOptions, sink func(Event)) (Session, error)
	// Ready reports whether the gateway can serve sign-ins now (for /readyz).
	Ready(ctx context.Context) error
	// Reasons lists the not-ready and rest reason codes agents may pick.
	Reasons() []Reason
}

// SignInOptions are what the bar may choose at sign-in.
type SignInOptions struct {
	// Force takes over a session the agent has elsewhere (Huawei forcelogin).
	Force bool
	// Queues to join, if the vendor lets the agent choose; empty = configured ones.
	Queues []string
	// Phone is the soft phone's address the CTI should ring (SIP user or AoR).
	Phone string
}

// Session is one agent's CTI session.
type Session interface {
	// Do carries out one command. It returns nil once the CTI accepted it;
	// the outcome arrives as events. A refusal is an *Error.
	Do(ctx context.Context, cmd Command) error
	// Snapshot is the agent's current state and calls, for a bar that
	// (re)connects.
	Snapshot(ctx context.Context) (Snapshot, error)
	// Close signs the agent out and ends the session.
	Close(ctx context.Context) error
}

// Op names a command.
type Op string

// The commands of an agent bar.
const (
	OpReady            Op = "ready"
	OpNotReady         Op = "not_ready" // Reason
	OpRest             Op = "rest"      // Reason, Duration
	OpWrapUpDone       Op = "wrap_up_done"
	OpAnswer           Op = "answer"
	OpReject           Op = "reject"
	OpHangup           Op = "hangup"
	OpHold             Op = "hold"
	OpResume           Op = "resume"
	OpMute             Op = "mute"
	OpUnmute           Op = "unmute"
	OpDial             Op = "dial" // Target (a number, agent or queue)
	OpDTMF             Op = "dtmf" // Digits
	OpTransfer         Op = "transfer"
	OpConsult          Op = "consult"
	OpCompleteTransfer Op = "complete_transfer"
	OpCancelConsult    Op = "cancel_consult"
	OpConference       Op = "conference"
	// OpReconnectMedia rings the agent's current phone registration again
	// for the connected call and moves the call's audio to the new dialog
	// (after a page reload lost the old one); the call goes on unchanged.
	OpReconnectMedia Op = "reconnect_media"
)

// Command is one neutral agent-bar operation.
type Command struct {
	Op       Op
	CallID   string        // the call it applies to; empty = the agent's current call
	Reason   string        // reason code for not ready and rest
	Duration time.Duration // rest length, if the vendor takes one
	Target   Target        // dial, transfer, consult
	Digits   string        // DTMF
}

// TargetKind says what a transfer, consult or dial reaches.
type TargetKind string

// Target kinds.
const (
	TargetAgent  TargetKind = "agent"
	TargetQueue  TargetKind = "queue"
	TargetNumber TargetKind = "number"
)

// Target is an agent, a queue or an outside number.
type Target struct {
	Kind TargetKind `json:"kind"`
	ID   string     `json:"id"`
}

// AgentState is the neutral agent state.
type AgentState string

// Agent states.
const (
	StateSignedOut AgentState = "signed_out"
	StateReady     AgentState = "ready"
	StateNotReady  AgentState = "not_ready" // with a reason
	StateRest      AgentState = "rest"      // with a reason
	StateWrapUp    AgentState = "wrap_up"   // with a deadline
	StateBusy      AgentState = "busy"      // on a call
)

// EventType names an event.
type EventType string

// Event types.
const (
	EvAgentState      EventType = "agent.state"
	EvCallIncoming    EventType = "call.incoming" // Call: caller, queue, data for a screen pop
	EvCallRinging     EventType = "call.ringing"
	EvCallAnswered    EventType = "call.answered"
	EvCallHeld        EventType = "call.held"
	EvCallResumed     EventType = "call.resumed"
	EvCallMuted       EventType = "call.muted"
	EvCallUnmuted     EventType = "call.unmuted"
	EvConsultStarted  EventType = "call.consult_started"
	EvConsultEnded    EventType = "call.consult_ended"
	EvCallTransferred EventType = "call.transferred"
	EvConferenced     EventType = "call.conferenced"
	EvCallEnded       EventType = "call.ended" // Cause
	EvDTMF            EventType = "call.dtmf"
	EvNotice          EventType = "session.notice" // Code, Message: forced sign-out, token expiring...
)

// Event is one normalized thing that happened to an agent.
type Event struct {
	Type     EventType  `json:"type"`
	Time     time.Time  `json:"time"`
	State    AgentState `json:"state,omitempty"`
	Reason   string     `json:"reason,omitempty"`
	Deadline time.Time  `json:"deadline,omitzero"` // wrap-up end
	Call     *CallInfo  `json:"call,omitempty"`
	Cause    string     `json:"cause,omitempty"`
	Digits   string     `json:"digits,omitempty"`
	Code     string     `json:"code,omitempty"`
	Message  string     `json:"message,omitempty"`
}

// CallInfo describes a call for the bar and the screen pop.
type CallInfo struct {
	ID        string            `json:"id"`
	Direction string            `json:"direction"` // inbound | outbound
	Caller    string            `json:"caller,omitempty"`
	Callee    string            `json:"callee,omitempty"`
	Queue     string            `json:"queue,omitempty"`
	Data      map[string]string `json:"data,omitempty"`
	State     string            `json:"state,omitempty"` // ringing | talking | held | consulting | conference
	Since     time.Time         `json:"since,omitzero"`
}

// Snapshot is an agent's state at one moment.
type Snapshot struct {
	State    AgentState `json:"state"`
	Reason   string     `json:"reason,omitempty"`
	Deadline time.Time  `json:"deadline,omitzero"`
	Calls    []CallInfo `json:"calls,omitempty"`
}

// Stats are the figures a bar shows beside its controls: the callers
// waiting in the agent's queues and the agent's own day so far.
type Stats struct {
	Time   time.Time    `json:"time"`             // when the figures were read
	Queues []QueueStats `json:"queues,omitempty"` // the agent's queues
	Agent  *AgentStats  `json:"agent,omitempty"`  // nil when the vendor has none
}

// QueueStats is one queue's live figures.
type QueueStats struct {
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	Waiting     int    `json:"waiting"`                // callers waiting now
	LongestWait int    `json:"longest_wait,omitempty"` // seconds the oldest caller has waited
	Ready       int    `json:"ready,omitempty"`        // agents ready to take a call
}

// AgentStats is the agent's own day (since sign-in or midnight, as the
// vendor counts).
type AgentStats struct {
	Answered int `json:"answered"`           // calls answered
	TalkTime int `json:"talk_time"`          // seconds talking, all calls
	Missed   int `json:"missed,omitempty"`   // calls offered and not answered
	Outbound int `json:"outbound,omitempty"` // calls dialled
}

// StatsSource is a Session that can report Stats. Sessions of vendors
// without statistics do not implement it (the bar then shows none).
type StatsSource interface {
	Stats(ctx context.Context) (Stats, error)
}

// Reason is a not-ready or rest reason the bar offers.
type Reason struct {
	Code  string `json:"code"`
	Label string `json:"label"`
	Rest  bool   `json:"rest,omitempty"` // a rest (break) reason rather than not-ready
}

// Code is a stable error code the page can rely on.
type Code string

// Stable error codes.
const (
	CodeBadRequest   Code = "bad_request"   // malformed or missing fields
	CodeNotAllowed   Code = "not_allowed"   // not allowed in the current state
	CodeNoCall       Code = "no_call"       // no suitable call for this action
	CodeUnknownAgent Code = "unknown_agent" // no such agent, or wrong password
	CodeSignedInElse Code = "signed_in_elsewhere"
	CodeSessionLost  Code = "session_lost" // the vendor ended the session
	CodeUnavailable  Code = "unavailable"  // the CTI cannot be reached or is overloaded
	CodeUnsupported  Code = "unsupported"  // the vendor has no such operation
	CodeInternal     Code = "internal"
)

// Error is a refusal with a stable code and a human message (no secrets).
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf builds an *Error.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf is the stable code of err: its *Error's code, or internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
