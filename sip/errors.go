package sip

import (
	"errors"
	"fmt"
)

// Errors the UA returns; test with errors.Is.
var (
	// ErrTransport: the WebSocket could not be opened or broke while a request was pending.
	ErrTransport = errors.New("sip: transport failure")
	// ErrTimeout: no final response before the transaction timer (Timer B/F) fired.
	ErrTimeout = errors.New("sip: transaction timed out")
	// ErrClosed: the UA was closed.
	ErrClosed = errors.New("sip: user agent closed")
	// ErrCanceled: an outgoing call was canceled before it was answered.
	ErrCanceled = errors.New("sip: call canceled")
	// ErrCallState: the operation is not allowed in the call's current state.
	ErrCallState = errors.New("sip: operation not allowed in this call state")
	// ErrAuth: the server challenged again after credentials were sent, or the challenge cannot be answered.
	ErrAuth = errors.New("sip: authentication failed")
	// ErrMedia: the media session could not produce or accept a session description.
	ErrMedia = errors.New("sip: media negotiation failed")
)

// StatusError is a final failure response (3xx-6xx) to a request the UA sent.
type StatusError struct {
	Method string // request method, e.g. "INVITE"
	Code   int    // status code, e.g. 486
	Reason string // reason phrase as received
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("sip: %s failed: %d %s", e.Method, e.Code, e.Reason)
}

// Is makes errors.Is(err, ErrAuth) true for an authentication failure status.
func (e *StatusError) Is(target error) bool {
	return target == ErrAuth && (e.Code == 401 || e.Code == 407)
}
