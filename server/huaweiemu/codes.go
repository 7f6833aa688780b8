package huaweiemu

import "github.com/agentbar/agentbar/proxy/gateway"

// CC-Gateway result codes (table 6-449) the emulator answers.
const (
	codeOK            = "0"
	codeEventMethod   = "000-001"
	codeBadParam      = "000-002"
	codeNoPermission  = "000-003"
	codeSignInParam   = "100-001"
	codeSignedIn      = "100-002"
	codeUnavailable   = "100-003"
	codeBadPassword   = "100-004"
	codeNotSignedIn   = "100-006"
	codeOpFailed      = "100-007"
	codeIllegalState  = "100-009"
	codeSignInInvalid = "100-011"
	codeAgentType     = "100-012"
	codePhoneInvalid  = "100-013"
	codeBadNumber     = "200-001"
	codeURLNotFound   = "210-001"
	codeOverload      = "999-002"
)

// opCodes are the result codes of one operation for a missing call and
// for a call in the wrong state.
type opCodes struct{ noCall, badState string }

// codeFor maps a gateway refusal to the operation's result code.
func codeFor(err error, oc opCodes) string {
	switch gateway.CodeOf(err) {
	case gateway.CodeBadRequest, gateway.CodeUnsupported:
		return codeBadParam
	case gateway.CodeNotAllowed:
		if oc.badState != "" {
			return oc.badState
		}
		return codeIllegalState
	case gateway.CodeNoCall:
		if oc.noCall != "" {
			return oc.noCall
		}
		return codeOpFailed
	case gateway.CodeSessionLost:
		return codeNotSignedIn
	case gateway.CodeSignedInElse:
		return codeSignedIn
	case gateway.CodeUnknownAgent:
		return codeBadPassword
	}
	return codeOpFailed
}
