package auth

import "errors"

// Code is the stable, machine-readable reason for a refusal. Callers may
// switch on it, log it or pass it on to clients; the values do not change.
//
// A Code is also an error, so a constant can be used as the target of
// errors.Is:
//
//	if errors.Is(err, auth.CodeTokenExpired) { ... }
type Code string

// The codes of token refusals.
const (
	// CodeTokenMalformed: not a compact JWS with JSON header and claims,
	// too long, or a claim of the wrong type.
	CodeTokenMalformed Code = "token_malformed"
	// CodeTokenBadSignature: the signature does not verify with the key
	// pinned to the token's algorithm.
	CodeTokenBadSignature Code = "token_bad_signature"
	// CodeTokenBadAlgorithm: the algorithm is not the one pinned to a
	// configured key (this includes "none").
	CodeTokenBadAlgorithm Code = "token_bad_algorithm"
	// CodeTokenExpired: the expiry (exp) has passed, beyond the leeway.
	CodeTokenExpired Code = "token_expired"
	// CodeTokenNotYetValid: not before (nbf) or issued at (iat) lies in the
	// future, beyond the leeway.
	CodeTokenNotYetValid Code = "token_not_yet_valid"
	// CodeTokenBadAudience: the audience (aud) is missing or does not
	// include the configured one.
	CodeTokenBadAudience Code = "token_bad_audience"
	// CodeTokenBadIssuer: the issuer (iss) is missing or not the configured
	// one.
	CodeTokenBadIssuer Code = "token_bad_issuer"
	// CodeTokenNoExpiry: the token has no expiry (exp) claim.
	CodeTokenNoExpiry Code = "token_no_expiry"
	// CodeTokenTooLongLived: the token's lifetime exceeds the configured
	// maximum.
	CodeTokenTooLongLived Code = "token_too_long_lived"
	// CodeTokenNoSubject: the token names no agent (empty sub).
	CodeTokenNoSubject Code = "token_no_subject"
	// CodeSessionOver: a renewal was refused because the session (since
	// auth_time) has lasted its maximum; the agent signs in again.
	CodeSessionOver Code = "session_over"
)

// The codes of SIP username refusals.
const (
	// CodeSIPMalformed: the username is not "<unix expiry>:<agent>".
	CodeSIPMalformed Code = "sip_username_malformed"
	// CodeSIPExpired: the expiry in the username has passed.
	CodeSIPExpired Code = "sip_username_expired"
)

// Error returns the fixed message for the code, for use as an errors.Is
// target.
func (c Code) Error() string {
	return "auth: " + string(c) + ": " + c.describe()
}

// describe is the human part of a code's message. It never depends on the
// input that was refused.
func (c Code) describe() string {
	switch c {
	case CodeTokenMalformed:
		return "token is not a well-formed JWT"
	case CodeTokenBadSignature:
		return "token signature does not verify"
	case CodeTokenBadAlgorithm:
		return "token algorithm is not accepted"
	case CodeTokenExpired:
		return "token has expired"
	case CodeTokenNotYetValid:
		return "token is not valid yet"
	case CodeTokenBadAudience:
		return "token is not meant for this audience"
	case CodeTokenBadIssuer:
		return "token issuer is not accepted"
	case CodeTokenNoExpiry:
		return "token has no expiry"
	case CodeTokenTooLongLived:
		return "token lifetime exceeds the maximum"
	case CodeSessionOver:
		return "the session has reached its maximum length: sign in again"
	case CodeTokenNoSubject:
		return "token names no agent"
	case CodeSIPMalformed:
		return "SIP username is not <expiry>:<agent>"
	case CodeSIPExpired:
		return "SIP username has expired"
	default:
		return "refused"
	}
}

// Error is a refusal from this package. Its message is fixed per Code and
// never contains the token or credential that was refused.
type Error struct {
	// Code is the stable reason.
	Code Code
}

// Error returns the fixed message for e.Code.
func (e *Error) Error() string { return e.Code.Error() }

// Is reports whether target is the same refusal: a Code equal to e.Code, or
// an *Error with the same Code.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case Code:
		return t == e.Code
	case *Error:
		return t != nil && t.Code == e.Code
	}
	return false
}

// CodeOf returns the Code of the first *Error in err's chain, or "" when
// there is none.
func CodeOf(err error) Code {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return ""
}

// refuse builds the *Error for code.
func refuse(code Code) *Error { return &Error{Code: code} }
