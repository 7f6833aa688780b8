package core

import (
	"slices"
	"time"
)

// Link is the state of one of the bar's two channels.
type Link string

// Link states: the control channel uses Connecting, Open and Closed; the
// phone uses Connecting (registering), Open (registered) and Closed.
const (
	LinkIdle       Link = "idle"
	LinkConnecting Link = "connecting"
	LinkOpen       Link = "open"
	LinkClosed     Link = "closed"
)

// Call is a call as the bar tracks it: the server's view plus the local
// flags only the bar knows.
type Call struct {
	CallInfo
	Muted   bool
	Started time.Time // when the timer starts: the server's Since, else when first seen
}

// Model is the agent bar's state. Its zero value is a signed-out bar.
// It is not safe for concurrent use: the js layer owns one and serializes
// access to it.
type Model struct {
	Agent    string
	Name     string
	State    AgentState
	Reason   string
	Deadline time.Time // wrap-up end
	Calls    []Call    // oldest first
	Reasons  []Reason

	Channel Link
	Phone   Link
	// PhoneRinging is set while the soft phone holds an unanswered INVITE.
	PhoneRinging bool

	// LastSeq is the last sequence number delivered: the resume point.
	LastSeq uint64
	// Figures are the latest get_stats reply, FiguresAt when it arrived
	// (the bar's clock); FiguresOff once the server said it has none
	// (unsupported): the strip is hidden and the bar stops asking.
	Figures    *Stats
	FiguresAt  time.Time
	FiguresOff bool

	// baseSeq is the sequence number the last snapshot already includes:
	// events up to it are delivered to listeners but not folded again.
	baseSeq uint64
}

// Hello takes the server's hello: the snapshot replaces the state, and
// seq becomes the point after which events change it.
func (m *Model) Hello(agent string, seq uint64, snap *Snapshot, reasons []Reason, now time.Time) {
	m.Agent = agent
	if reasons != nil {
		m.Reasons = reasons
	}
	m.baseSeq = seq
	if m.LastSeq == 0 || seq < m.LastSeq {
		// Fresh start, or the server's log is behind what we saw (a new
		// log): follow the server.
		m.LastSeq = seq
	}
	if snap == nil {
		return
	}
	m.State, m.Reason, m.Deadline = snap.State, snap.Reason, snap.Deadline
	old := m.Calls
	m.Calls = nil
	for _, ci := range snap.Calls {
		if ci.State == CallEnded {
			continue
		}
		c := Call{CallInfo: ci, Started: startOf(ci, now)}
		if i := slices.IndexFunc(old, func(o Call) bool { return o.ID == ci.ID }); i >= 0 {
			c.Muted = old[i].Muted
		}
		m.Calls = append(m.Calls, c)
	}
}

// Outcome says what Apply did with an event.
type Outcome int

// Outcomes of Apply.
const (
	// Duplicate: already delivered (seq at or before LastSeq); drop it.
	Duplicate Outcome = iota
	// Replayed: missed while away but already in the snapshot; deliver it
	// to listeners, the state does not change.
	Replayed
	// Folded: delivered and folded into the state.
	Folded
)

// Apply takes one event with its sequence number (0 for an unsequenced
// event such as session.notice) and says whether to deliver it.
func (m *Model) Apply(seq uint64, ev Event, now time.Time) Outcome {
	if seq != 0 {
		if seq <= m.LastSeq {
			return Duplicate
		}
		m.LastSeq = seq
		if seq <= m.baseSeq {
			return Replayed
		}
	}
	m.fold(ev, now)
	return Folded
}

func (m *Model) fold(ev Event, now time.Time) {
	switch ev.Type {
	case EvAgentState:
		m.State, m.Reason, m.Deadline = ev.State, ev.Reason, ev.Deadline
		if ev.State == StateSignedOut {
			m.Calls = nil
		}
		return
	case EvNotice:
		return
	}
	if ev.Call == nil || ev.Call.ID == "" {
		return
	}
	if ev.Type == EvCallEnded || ev.Call.State == CallEnded {
		m.Calls = slices.DeleteFunc(m.Calls, func(c Call) bool { return c.ID == ev.Call.ID })
		return
	}
	c := m.upsert(*ev.Call, now)
	switch ev.Type {
	case EvCallMuted:
		c.Muted = true
	case EvCallUnmuted:
		c.Muted = false
	case EvCallHeld:
		if c.State == "" || c.State == CallTalking {
			c.State = CallHeld
		}
	case EvCallResumed:
		if c.State == CallHeld {
			c.State = CallTalking
		}
	}
}

// upsert records the server's latest view of a call and returns the
// bar's entry for it.
func (m *Model) upsert(ci CallInfo, now time.Time) *Call {
	i := slices.IndexFunc(m.Calls, func(c Call) bool { return c.ID == ci.ID })
	if i < 0 {
		m.Calls = append(m.Calls, Call{CallInfo: ci, Started: startOf(ci, now)})
		return &m.Calls[len(m.Calls)-1]
	}
	c := &m.Calls[i]
	prev := c.CallInfo
	c.CallInfo = ci
	// Events may carry a partial call: keep what we knew.
	if ci.Caller == "" {
		c.Caller = prev.Caller
	}
	if ci.Callee == "" {
		c.Callee = prev.Callee
	}
	if ci.Queue == "" {
		c.Queue = prev.Queue
	}
	if ci.Data == nil {
		c.Data = prev.Data
	}
	if ci.Direction == "" {
		c.Direction = prev.Direction
	}
	if ci.State == "" {
		c.State = prev.State
	}
	switch {
	case !ci.Since.IsZero():
		c.Started = ci.Since
	case prev.State == CallRinging && c.State != CallRinging:
		c.Started = now // answered: the talk timer starts
	}
	return c
}

func startOf(ci CallInfo, now time.Time) time.Time {
	if !ci.Since.IsZero() {
		return ci.Since
	}
	return now
}

// Current is the call the controls apply to: the newest one, or nil.
func (m *Model) Current() *Call {
	if len(m.Calls) == 0 {
		return nil
	}
	return &m.Calls[len(m.Calls)-1]
}

// Connected is the newest answered call (talking, held, consulting or in
// conference): one whose audio a reloaded bar asks back with
// reconnect_media. Nil if there is none.
func (m *Model) Connected() *Call {
	for i := len(m.Calls) - 1; i >= 0; i-- {
		switch m.Calls[i].State {
		case CallTalking, CallHeld, CallConsulting, CallConference:
			return &m.Calls[i]
		}
	}
	return nil
}

// SignedIn reports whether the agent has a CTI session.
func (m *Model) SignedIn() bool { return m.State != "" && m.State != StateSignedOut }

// ReasonFor finds a configured reason by code.
func (m *Model) ReasonFor(code string) (Reason, bool) {
	i := slices.IndexFunc(m.Reasons, func(r Reason) bool { return r.Code == code })
	if i < 0 {
		return Reason{}, false
	}
	return m.Reasons[i], true
}

// NotReadyOp is the command that puts the agent in a reason's state:
// "rest" for a break reason, "not_ready" otherwise.
func (m *Model) NotReadyOp(code string) string {
	if r, ok := m.ReasonFor(code); ok && r.Rest {
		return "rest"
	}
	return "not_ready"
}

// Reset forgets the session (after sign-out), keeping nothing.
func (m *Model) Reset() { *m = Model{} }
