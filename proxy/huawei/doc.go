// Package huawei is the proxy's Huawei CEC adapter: a gateway.Gateway over
// the CC-Gateway agent interface (C4 authentication with the per-agent Guid,
// which only the proxy ever holds), plus clients for the AK/SK-protected
// services the bar's figures come from: the API Fabric bearer token
// (C1, tokenByAkSk) and the CMS auth-v2 request signature (C2).
//
// One Session per signed-in agent runs the CC-Gateway event long-poll in
// poll mode, follows the Guid rotation from poll responses, maps every
// Huawei event to neutral gateway events and maps each neutral command to
// its onlineagent or voicecall operation. Passwords, Guids, AK/SK, tokens
// and signatures never appear in logs, events or errors.
//
// Decisions where the spec and the seed document differ or are silent:
//   - Voice-call paths use "voicecall" (the seed also prints "voicercall").
//   - wrap_up_done is a single cancelwork: the seed says it leads to idle.
//   - Sign-in asks for status 3 (busy) so the agent starts not ready; the
//     AgentState_Ready the platform sends inside that sign-in sequence is
//     not forwarded.
//   - Transfer uses success-transfer (mode 2) so the agent stays on the
//     call if the target fails; complete_transfer after a consult uses
//     release-transfer (mode 0) to the consulted party.
//   - reject uses mode 1 (the call returns to the queue).
//   - Request bodies use the documented types (int, boolean); the seed's
//     examples send some as strings, so CC-Gateway is assumed lenient, as
//     this package's decoders are for every scalar.
//   - CMS agent status (agentstatusinfobyagentids) is sent without a
//     queryParam wrapper, as its example shows; skill statistics
//     (skill/stateinfo) inside queryParam with skillIds, as its example
//     shows (its table prints the fields unwrapped and "skilllds"). Both use
//     the table's "cclid" where examples print "ccld". CMS rows are read
//     from resultDesc when it is an array, else resultDatas.
//   - Close stops polling and then logs out; the seed says a logout during
//     a call has no effect, in which case the platform signs the agent out
//     two minutes after the last poll.
package huawei
