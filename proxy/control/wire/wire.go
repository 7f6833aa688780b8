// Package wire is the control channel's protocol, version 1: the messages
// the bar and the proxy exchange, their types, operations and error codes
// (docs/control-channel.md). The proxy's hub (proxy/control) and the bar
// (wasm/core) both use it, so the two ends cannot drift apart.
package wire

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// Subprotocol is the WebSocket subprotocol of version 1 of the protocol.
const Subprotocol = "agentbar.v1"

// TokenPrefix marks a second subprotocol that carries the JWT, for clients
// that authenticate at the upgrade instead of in the first message.
const TokenPrefix = "access_token."

// Message types.
const (
	TypeAuth  = "auth"  // client: first message, with token and resume point
	TypeHello = "hello" // server: authenticated; agent, last seq, snapshot, reasons
	TypeCmd   = "cmd"   // client: a command
	TypeReply = "reply" // server: the outcome of one command
	TypeEvent = "event" // server: one sequenced event
	TypeError = "error" // server: a message that was not understood
	TypeToken = "token" // client: a fresh token for the open channel
)

// Extra operations of the control channel, beside gateway.Op.
const (
	OpSignIn         = "sign_in"
	OpSignOut        = "sign_out"
	OpGetState       = "get_state"
	OpSIPCredentials = "sip_credentials"
	OpGetStats       = "get_stats"   // reply carries stats; unsupported when the vendor has none
	OpRenewToken     = "renew_token" // reply carries a fresh token for this session (no password)
)

// Stable error codes of the control channel, beside gateway.Code.
const (
	CodeBadJSON        = "bad_json"
	CodeUnknownCommand = "unknown_command"
	CodeUnauthorized   = "unauthorized"
	CodeNotSignedIn    = "not_signed_in"
	CodeTooLarge       = "too_large"
)

// ClientMessage is anything the bar sends.
type ClientMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`     // cmd
	Op      string          `json:"op,omitempty"`     // cmd
	Token   string          `json:"token,omitempty"`  // auth, token
	Resume  *uint64         `json:"resume,omitempty"` // auth: last seq the bar has seen
	CallID  string          `json:"call_id,omitempty"`
	Reason  string          `json:"reason,omitempty"`
	Target  *gateway.Target `json:"target,omitempty"`
	Digits  string          `json:"digits,omitempty"`
	Force   bool            `json:"force,omitempty"`   // sign_in
	Seconds int             `json:"seconds,omitempty"` // rest duration
}

// ServerMessage is anything the proxy sends.
type ServerMessage struct {
	Type     string            `json:"type"`
	V        int               `json:"v,omitempty"`
	ID       string            `json:"id,omitempty"`
	OK       *bool             `json:"ok,omitempty"`
	Error    *ErrorBody        `json:"error,omitempty"`
	Agent    string            `json:"agent,omitempty"`
	Seq      uint64            `json:"seq,omitempty"`
	Event    json.RawMessage   `json:"event,omitempty"`
	Snapshot *gateway.Snapshot `json:"snapshot,omitempty"`
	Reasons  []gateway.Reason  `json:"reasons,omitempty"`
	SIP      *SIPCredentials   `json:"sip,omitempty"`
	Expires  *time.Time        `json:"expires,omitempty"` // token expiry, in hello
	Stats    *gateway.Stats    `json:"stats,omitempty"`   // reply to get_stats
	Token    string            `json:"token,omitempty"`   // reply to renew_token
}

// ErrorBody is a stable code and a human message.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *ErrorBody) Error() string { return e.Code + ": " + e.Message }

// SIPAddress is where and as whom the page's soft phone registers. It holds
// no secret: POST /v1/session returns it, so that the phone can connect
// and send its first REGISTER while the control channel opens.
type SIPAddress struct {
	URI string `json:"uri"` // the SIP edge, ws(s)://.../v1/sip
	AOR string `json:"aor"` // sip:agent@domain
}

// SIPCredentials are short-lived credentials for the page's soft phone.
type SIPCredentials struct {
	SIPAddress
	User     string    `json:"user"` // digest username
	Password string    `json:"password"`
	Expires  time.Time `json:"expires"`
}

// ValidDigits reports whether s is a DTMF string a command may carry: 1 to
// 32 of 0-9, *, #, A-D.
func ValidDigits(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789*#ABCD", r) {
			return false
		}
	}
	return true
}
