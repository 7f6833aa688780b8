// Package huaweiemu emulates the agent API of Huawei CEC's CC-Gateway (the
// /agentgateway/resource/... resources) over HTTP, in front of the built-in
// call center's vendor-neutral gateway. It is faithful enough that a real
// CC-Gateway client — the proxy's Huawei adapter — runs end to end against
// it: sign-in with the C4 Guid (dynamic mode: rotated every GuidInterval,
// old values kept for GuidTimeout), the agentevent long poll with the
// vendor's event names and contents, the onlineagent / voicecall / calldata
// operations with the vendor's result codes, the two-minute no-poll
// sign-out, and one CC-CMS monitoring resource guarded by the C2 auth-v2
// AK/SK signature.
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
//   - The built-in call center has no IVR or access codes: transfer device
//     types 3 and 4 are refused with 000-002, and every transfer mode is
//     carried out as the call center's blind transfer.
package huaweiemu
