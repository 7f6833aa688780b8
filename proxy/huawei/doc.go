// Package huawei is the proxy's Huawei CEC adapter: a gateway.Gateway over
// the CC-Gateway agent interface (C4 authentication with the per-agent Guid,
// which only the proxy ever holds), plus clients for the AK/SK-protected
// services the bar's figures come from: the API Fabric bearer token
// (C1, tokenByAkSk) and the CMS auth-v2 request signature (C2).
//
// One Session per signed-in agent receives the CC-Gateway events — by the
// agentevent long poll (poll mode, the default) or pushed to PushHandler
// (push mode, Config.Push, with a heartbeat every 30 s) —, follows the
// Guid rotation from the poll or heartbeat answers, maps every Huawei
// event to neutral gateway events and maps each neutral command to its
// onlineagent or voicecall operation. Flow-controlled queries are paced
// to 5 per agent in 2 s. Sessions report statistics (gateway.StatsSource)
// from CMS through a cache shared by all agents. Passwords, Guids, AK/SK,
// service tokens and signatures never appear in logs, events or errors.
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
//   - Push mode (seed 6.1.4.2, 6.1.1.3): the sign-in carries callbackUri
//     and a random 32-letter-and-digit serviceToken (both, line 6896); the
//     session is registered before the sign-in is sent, and events pushed
//     before its answer are delivered after the first state. Heartbeats
//     (handshake) every 30 s (line 7175) carry the Guid and service_token;
//     a new token every minute (line 7205), once CC-Gateway accepted the
//     previous one, which stays accepted until the next renewal (pushes
//     under way may carry it). The Guid of a heartbeat answer is adopted
//     (line 7204); the Guid header of a push is not (it authenticates
//     nothing the token does not). A push is accepted only with a
//     service_token in force, compared in constant time; the answer is the
//     table 6-252 envelope with retcode 0, 100-001 for a token absent,
//     longer than 50 or with other than letters and digits (the seed's
//     code for such a token, line 13616), 000-003 ("no permission") for a
//     token that is not the agent's; refusals are logged without the
//     token. Heartbeat answers 100-006 and 000-003 sign the agent in again
//     as in poll mode.
//   - Flow control (line 12065-12066, 21334-21346): queries (calldata,
//     queuedevice, agentgroup, agentskills, agentskillsbyworkno,
//     agentstatus, syncagentinfo, updateGuid) wait their turn so that no
//     agent sends more than 5 in 2.25 s (a margin over the seed's 2 s);
//     999-002 maps to unavailable.
//   - Statistics: the agent's skills from agentskills (once per session;
//     narrowed to the queues chosen at sign-in), their calls waiting and
//     idle agents from CMS skill/stateinfo, the agent's day from CMS
//     hisindex/agent without timeGrain (IDX_COUNT_AGENT_CONNECTED,
//     IDX_DURATION_AGENT_CALL_IN + _CALL_OUT, IDX_COUNT_TOTAL_AGENT_CALL_OUT,
//     IDX_COUNT_AGENT_NO_ACK; a value given per time slot is summed).
//     LongestWait is left empty: CMS offers only the longest wait of the
//     last five minutes (maxCallWaitTimesIn5). CMS is C2-signed, or C1
//     (the API Fabric token) when it has no AK/SK of its own.
//   - Call data: no call event carries it (seed line 19437, 19644-19690,
//     19820-19840), so the first event of a new inbound call waits (at
//     most CallDataTimeout, 2 s) for calldata callinfobycallid (6.1.3.6,
//     line 12714), or callinfo (6.1.3.1, line 12070) of the current call
//     when the first is refused: its preconditions say "in a call", and a
//     ringing call may not count. The calldata string becomes the call's
//     Data: a JSON object's members (the seed recommends JSON, line
//     25631), else the whole text under "calldata"; caller, called and
//     callskill fill what the events left empty. appdata (6.1.3.2) is not
//     used: it has the data only, under the same precondition. A failed
//     read is logged at debug and the event goes without the data; each
//     call is read once, as a paced query.
//   - updateGuid and syncagentinfo (6.1.1.24, 6.1.1.25) are not used: they
//     serve a page that owns the session after a browser refresh. Here the
//     proxy owns it and holds the current Guid across page reloads
//     (updateGuid would only return it, and needs it to be called);
//     syncagentinfo empties the agent's event queue (line 9096), losing
//     events the poll has not read yet; both count against the flow
//     control. Snapshot answers a reconnecting bar from agentstatus and
//     the calls the session tracks.
package huawei
