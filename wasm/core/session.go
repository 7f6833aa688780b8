package core

import "time"

// NoticeAction is what the bar does about a session.notice.
type NoticeAction int

// What a notice asks of the bar.
const (
	NoticeNone NoticeAction = iota
	// NoticeRenew: the token expires soon; renew it over the channel
	// (renew_token), no password needed.
	NoticeRenew
	// NoticeForcedOut: the server signed the agent out for good (signed in
	// elsewhere, session lost); a reload must not take the session back.
	NoticeForcedOut
)

// NoticeFor maps a session.notice code to the bar's action.
func NoticeFor(code string) NoticeAction {
	switch code {
	case "token_expiring":
		return NoticeRenew
	case "signed_in_elsewhere", "session_lost":
		return NoticeForcedOut
	}
	return NoticeNone
}

// SessionOver reports whether a refused renewal (its error code) means
// the session cannot go on past the current token's expiry, so that the
// agent must sign in again: past auth.max_session, or a token the server
// no longer accepts. Other refusals (a proxy that does not renew, a
// network error) leave room for a host page's fresh token (setToken).
func SessionOver(code string) bool {
	return code == "session_over" || code == "unauthorized"
}

// Renewed is the saved session with a fresh token: same agent and name.
func (s Saved) Renewed(token string, expires time.Time) Saved {
	s.Token, s.Expires = token, expires
	return s
}

// Expiry follows the session token's expiry as the server sees it, to
// know, without comparing clocks, when the server will close the channel
// for good: after token_expiring (Warned) the token ends at At unless a
// renewal moves At (the server then warns again before the new expiry).
// A renewal capped at auth.max_session returns the same expiry, and a
// refused one none: the session ends at At either way.
//
// The server warns once per expiry, and arms the warning of a fresh token
// before it replies: a notice that comes while a renewal (or a host's
// token) is on its way is about the token it brings, so it counts once
// that is done (Begin, then Renewed or Failed).
type Expiry struct {
	At     time.Time
	Ending bool // warned, and not renewed past At since

	inFlight int  // renewals sent, not answered yet
	warned   bool // a notice came while one was
}

// Begin records a renewal (or a fresh token) sent to the server.
func (e *Expiry) Begin() { e.inFlight++ }

// Warned records a token_expiring notice.
func (e *Expiry) Warned() {
	if e.inFlight > 0 {
		e.warned = true
		return
	}
	e.Ending = true
}

// Renewed records a fresh token valid until at (the answer to Begin, or
// a token that came otherwise).
func (e *Expiry) Renewed(at time.Time) {
	if !at.Equal(e.At) {
		e.Ending = false
	}
	e.At = at
	e.done()
}

// Failed records a renewal refused or unanswered.
func (e *Expiry) Failed() { e.done() }

func (e *Expiry) done() {
	if e.inFlight > 0 {
		e.inFlight--
	}
	if e.inFlight == 0 && e.warned {
		e.warned, e.Ending = false, true
	}
}
