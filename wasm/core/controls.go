package core

import "strings"

// Control is one thing the agent can do from the bar.
type Control uint32

// The bar's controls.
const (
	CtlReady Control = 1 << iota
	CtlNotReady
	CtlAnswer
	CtlReject
	CtlHangup
	CtlHold
	CtlResume
	CtlMute
	CtlUnmute
	CtlDial
	CtlDTMF
	CtlTransfer
	CtlConsult
	CtlCompleteTransfer
	CtlCancelConsult
	CtlConference
	CtlWrapUpDone
	CtlSignOut
	ctlEnd
)

// controlNames are the controls' names in bit order (a function, not a
// package variable, so nothing can change them).
func controlNames() [18]string {
	return [...]string{
		"ready", "not_ready", "answer", "reject", "hangup", "hold", "resume", "mute", "unmute",
		"dial", "dtmf", "transfer", "consult", "complete_transfer", "cancel_consult",
		"conference", "wrap_up_done", "sign_out",
	}
}

// String is the control's name, the control channel's op where one exists.
func (c Control) String() string {
	var parts []string
	for i, n := range controlNames() {
		if c&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, "|")
}

// ControlByName finds a control by its name (see String).
func ControlByName(name string) (Control, bool) {
	for i, n := range controlNames() {
		if n == name {
			return 1 << i, true
		}
	}
	return 0, false
}

// Controls is a set of controls.
type Controls = Control

// Has reports whether every control of x is in c.
func (c Control) Has(x Control) bool { return c&x == x }

// Names lists the set's controls by name, in declaration order.
func (c Control) Names() []string {
	var out []string
	for i, n := range controlNames() {
		if c&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// Allowed is the set of controls that make sense now. The server has the
// last word (a refused command changes nothing); this decides which
// buttons are enabled. Answering and dialing need the soft phone
// registered; nothing is allowed while the control channel is down.
func (m *Model) Allowed() Controls {
	if !m.SignedIn() || m.Channel != LinkOpen {
		return 0
	}
	var c Controls
	call := m.Current()
	if call == nil {
		c |= CtlSignOut
		switch m.State {
		case StateReady:
			c |= CtlNotReady
		case StateWrapUp:
			c |= CtlWrapUpDone | CtlReady | CtlNotReady
		case StateNotReady, StateRest:
			c |= CtlReady | CtlNotReady
		}
		if m.State != StateBusy && m.Phone == LinkOpen {
			c |= CtlDial
		}
		if m.PhoneRinging {
			c |= CtlAnswer | CtlReject
		}
		return c
	}
	switch call.State {
	case CallRinging:
		if call.Direction == "outbound" {
			return CtlHangup
		}
		c |= CtlReject
		if m.Phone == LinkOpen {
			c |= CtlAnswer
		}
		return c
	case CallHeld:
		return CtlHangup | CtlResume | CtlTransfer | CtlConsult
	case CallConsulting:
		c = CtlHangup | CtlCompleteTransfer | CtlCancelConsult | CtlConference | CtlDTMF
	case CallConference:
		c = CtlHangup | CtlDTMF
	default: // talking
		c = CtlHangup | CtlHold | CtlDTMF | CtlTransfer | CtlConsult
	}
	if call.Muted {
		c |= CtlUnmute
	} else {
		c |= CtlMute
	}
	return c
}
