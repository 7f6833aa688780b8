// Package huaweiemu emulates the agent API of Huawei CEC's CC-Gateway (the
// /agentgateway/resource/... resources) over HTTP, in front of the built-in
// call center's vendor-neutral gateway. It is faithful enough that a real
// CC-Gateway client — the proxy's Huawei adapter — runs end to end against
// it: sign-in with the C4 Guid (dynamic mode: rotated every GuidInterval,
// old values kept for GuidTimeout), the agentevent long poll with the
// vendor's event names and contents, or push mode (events POSTed to the
// sign-in's callbackUri with its service_token, heartbeats renewing the
// token and delivering the rotated Guid), the onlineagent / voicecall /
// calldata operations with the vendor's result codes, the per-agent query
// flow control, the two-minute no-poll (no-heartbeat) sign-out, and three
// CC-CMS monitoring resources guarded by the C2 auth-v2 AK/SK signature
// (agent status, skill statistics, the agents' day indicators).
//
// Decisions where the engineering spec (shared/specs/huawei-cec.md) and
// the seed are silent or disagree are written next to the code that makes
// them; the main ones:
//
//   - The Guid is returned at sign-in in both Guid and Set-GUID
//     ("JSESSIONID=<guid>") headers; a rotated Guid is delivered the same
//     way on the next agentevent response (and on any poll that still
//     carries an older Guid). Every operation answers HTTP 200 with the
//     envelope {"message","retcode","result"}; the poll uses "event".
//   - Business refusals use the per-operation codes of the seed's tables;
//     a state the call center refuses is 100-009, a missing call the
//     operation's 200-0xx code.
//   - Sign-out delivers AgentOther_ShutdownService to one last poll of the
//     old Guid, then the Guid answers 100-006.
//   - Transfer modes are mapped onto the call center's blind transfer and
//     consult (see handleTransfer): release and success transfers are the
//     blind transfer, success told by AgentEvent_SuccTransResult; a talk
//     transfer is a consult completed by the agent's release. It has no
//     IVR or access codes and reaches numbers by blind transfer only:
//     device types 3 and 4 and talk and three-party transfers to numbers
//     are refused with 000-002.
//   - Push mode: a poll answers 000-001 ("wrong method of getting agent
//     events"), and so does a heartbeat of a poll-mode agent; a push the
//     receiver refuses is tried again a second later while the session
//     lives. The heartbeat answer has no result key (the seed's example)
//     and carries a rotated Guid in its Guid header only (line 7204).
//   - Flow control: 5 queries per agent in 2 s (agentstatus, updateGuid,
//     agentskills, calldata), beyond that 999-002; the system-wide limit
//     is not emulated.
//   - Call data: the call center's call data (the map given with the
//     call, e.g. POST /v1/demo/calls) is on no event, as in the seed's
//     event contents (AgentEvent_Incoming_CallInfo, _Ringing,
//     _Auto_Answer, _Talking). It is the calldata string of the calldata
//     queries callinfo, callinbeforeanswer and callinfobycallid (ringing
//     calls included), and the result of appdata (base64 with
//     isEncodeResult=true): the map as a JSON object's text (the seed
//     types calldata string and recommends JSON, line 25631), "" when
//     there is none. setcalldataex is not emulated.
//   - CMS figures: the calls waiting come from the call center through its
//     sessions' gateway.StatsSource; the agent counts per skill from the
//     emulator's sessions; the agent indicators are counted from the call
//     center's events on the emulator's clock (talk time split inbound and
//     outbound as CMS splits it), per UTC day, and survive Restart.
package huaweiemu
