package huaweiemu

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// simple is an operation that is one neutral command on the call named by
// the optional callid query parameter (gethold, answer) or path segment
// (dropcall), or on the agent's current call.
func (e *Emulator) simple(op gateway.Op, oc opCodes) handler {
	return func(w http.ResponseWriter, r *http.Request, agent string, args []string) {
		_, g, found := e.live(w, agent)
		if !found {
			return
		}
		id := r.URL.Query().Get("callid")
		if len(args) > 0 {
			id = args[0]
		}
		if e.do(w, r, g, gateway.Command{Op: op, CallID: e.neutralCallID(id)}, oc) {
			ok(w, map[string]any{})
		}
	}
}

// handleAnswer is PUT voicecall/{agentid}/answer?callid=.
func (e *Emulator) handleAnswer(w http.ResponseWriter, r *http.Request, agent string, args []string) {
	e.simple(gateway.OpAnswer, opCodes{"200-002", "200-002"})(w, r, agent, args)
}

// isDialString tells whether s is 1-n characters of digits, * and #.
func isDialString(s string, n int) bool {
	if s == "" || len(s) > n {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && c != '*' && c != '#' {
			return false
		}
	}
	return true
}

// currentCallID is the Huawei callid of the agent's call in the given
// direction ("" = any), from a fresh snapshot.
func (e *Emulator) currentCallID(r *http.Request, g gateway.Session, dir string) string {
	snap, err := g.Snapshot(r.Context())
	if err != nil {
		return ""
	}
	for _, c := range snap.Calls {
		if dir == "" || c.Direction == dir {
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.hwCallIDLocked(c.ID)
		}
	}
	return ""
}

// handleCallout is PUT voicecall/{agentid}/callout (a number) and
// callinner (another agent's work number); the result is the callid.
func (e *Emulator) handleCallout(kind gateway.TargetKind) handler {
	return func(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
		_, g, body, found := e.liveBody(w, r, agent)
		if !found {
			return
		}
		called, _ := str(body, "called")
		noCall := codeBadNumber
		if kind == gateway.TargetAgent {
			noCall = "200-018"
			if called == "" || len(called) > 24 {
				fail(w, codeBadParam, "called must be a work number")
				return
			}
		} else if !isDialString(called, 24) {
			fail(w, codeBadNumber, "called must be 1-24 digits, * or #")
			return
		}
		cmd := gateway.Command{Op: gateway.OpDial, Target: gateway.Target{Kind: kind, ID: called}}
		ctx := r.Context()
		if err := g.Do(ctx, cmd); err != nil {
			code := codeFor(err, opCodes{noCall: noCall, badState: codeOpFailed})
			if gateway.CodeOf(err) == gateway.CodeBadRequest {
				code = noCall
			}
			fail(w, code, err.Error())
			return
		}
		ok(w, e.currentCallID(r, g, "outbound"))
	}
}

// handleReject is POST voicecall/{agentid}/reject with {"callid","mode"}:
// mode 1 leaves the agent busy, mode 2 makes it idle again.
func (e *Emulator) handleReject(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
	_, g, body, found := e.liveBody(w, r, agent)
	if !found {
		return
	}
	mode, good := intField(body, "mode", 0)
	if !good || (mode != 1 && mode != 2) {
		fail(w, codeBadParam, "mode must be 1 or 2")
		return
	}
	id, _ := str(body, "callid")
	cmd := gateway.Command{Op: gateway.OpReject, CallID: e.neutralCallID(id)}
	if !e.do(w, r, g, cmd, opCodes{"200-037", "200-037"}) {
		return
	}
	if mode == 2 {
		_ = g.Do(r.Context(), gateway.Command{Op: gateway.OpReady})
	}
	ok(w, map[string]any{})
}

// handleSecondDial is POST voicecall/{agentid}/seconddial?number=.
func (e *Emulator) handleSecondDial(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
	_, g, found := e.live(w, agent)
	if !found {
		return
	}
	number := r.URL.Query().Get("number")
	if !isDialString(number, 24) {
		fail(w, codeBadParam, "number must be 1-24 digits, * or #")
		return
	}
	if e.do(w, r, g, gateway.Command{Op: gateway.OpDTMF, Digits: number}, opCodes{codeOpFailed, codeOpFailed}) {
		ok(w, map[string]any{})
	}
}

// Transfer modes (table 6-143, table 6-459).
const (
	modeRelease    = 0 // release transfer (devicetype 1-4)
	modeOne        = 1 // release transfer to a number (devicetype 5); suspend transfer to an IVR (devicetype 3)
	modeSuccess    = 2 // success transfer
	modeTalk       = 3 // talk transfer (devicetype 5; the seed's example uses it with 2)
	modeThreeParty = 4 // three-party transfer (devicetype 5)
)

// consultCanceled is the call center's cause when a consult is cancelled.
const consultCanceled = "consult_canceled"

// transferModes are the modes table 6-143 allows per device type; the
// seed's own example (device type 2, mode 3) is accepted too (spec E12).
func transferModes(devicetype int) []int {
	switch devicetype {
	case 1, 4:
		return []int{modeRelease, modeSuccess}
	case 2:
		return []int{modeRelease, modeSuccess, modeTalk}
	case 3:
		return []int{modeRelease, modeOne}
	case 5:
		return []int{modeOne, modeSuccess, modeTalk, modeThreeParty}
	}
	return nil
}

// handleTransfer is POST voicecall/{agentid}/transfer (body table 6-143).
// The call center has blind transfer, consult, and the consulted agent
// keeping the customer when the consulting one leaves; the modes map onto
// them as far as they reach:
//
//   - release transfer (skill, agent, number): the blind transfer; the
//     agent leaves at once (AgentEvent_Call_Release). Not for outbound
//     calls to a number (seed line 10507).
//   - success transfer (skill, agent, number): the blind transfer, told by
//     AgentEvent_SuccTransResult {result 0} before the release. The call
//     center cannot keep the agent on the call until the target answers,
//     so success is the hand-over; a target that cannot take the call now
//     gives result 1 and the agent keeps it.
//   - talk transfer (agent, the seed's example): a consult; the target's
//     answer is AgentEvent_Talking, and the agent's release leaves the
//     customer with it; canceltransfer cancels.
//   - a transfer to the agent innerhelp is consulting completes that
//     consult, whatever the mode.
//
// Refused with 000-002: IVR and access codes (device types 3 and 4: the
// call center has none) and talk and three-party transfers to a number
// (its consult reaches agents only).
func (e *Emulator) handleTransfer(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
	s, g, body, found := e.liveBody(w, r, agent)
	if !found {
		return
	}
	dt, good1 := intField(body, "devicetype", -1)
	mode, good2 := intField(body, "mode", -1)
	address, _ := str(body, "address")
	if !good1 || !good2 || !slices.Contains(transferModes(dt), mode) || address == "" || len(address) > 24 {
		fail(w, codeBadParam, "invalid devicetype, mode or address")
		return
	}
	switch {
	case dt == 3 || dt == 4:
		fail(w, codeBadParam, "no IVR or access codes in this call center")
		return
	case dt == 5 && (mode == modeTalk || mode == modeThreeParty):
		fail(w, codeBadParam, "this call center reaches numbers by blind transfer only")
		return
	}
	snap, found := e.snapshot(w, r, g)
	if !found {
		return
	}
	if len(snap.Calls) == 0 {
		fail(w, "200-012", "no call to transfer")
		return
	}
	call := snap.Calls[0]
	if dt == 5 && mode == modeOne && call.Direction == "outbound" {
		fail(w, codeBadParam, "no release transfer of an outbound call to a number")
		return
	}
	cmd := gateway.Command{Op: gateway.OpTransfer, Target: gateway.Target{Kind: gateway.TargetNumber, ID: address}}
	switch dt {
	case 1:
		cmd.Target = gateway.Target{Kind: gateway.TargetQueue, ID: e.queueOfSkill(address)}
	case 2:
		cmd.Target.Kind = gateway.TargetAgent
	}
	e.mu.Lock()
	switch {
	case dt == 2 && s.consulting == address:
		cmd.Op = gateway.OpCompleteTransfer
	case mode == modeTalk:
		cmd.Op = gateway.OpConsult
	}
	s.transfers[call.ID] = &transfer{mode: mode, target: address}
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.Context(), opTimeout)
	defer cancel()
	err := g.Do(ctx, cmd)
	if err == nil {
		ok(w, map[string]any{})
		return
	}
	e.mu.Lock()
	delete(s.transfers, call.ID)
	refused := mode == modeSuccess && gateway.CodeOf(err) == gateway.CodeNotAllowed && !s.ended
	if refused {
		s.push(eventSuccTransResult, map[string]any{"result": 1, "callId": e.hwCallIDLocked(call.ID)})
	}
	e.mu.Unlock()
	if refused {
		ok(w, map[string]any{})
		return
	}
	fail(w, codeFor(err, opCodes{noCall: "200-012", badState: codeOpFailed}), err.Error())
}

// handleInnerHelp is POST voicecall/{agentid}/innerhelp (table 6-124): a
// consult of an agent (devicetype 2) or skill (1); the result is the
// callid. Three-party help (mode 2) is carried out as a consult too.
func (e *Emulator) handleInnerHelp(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
	s, g, body, found := e.liveBody(w, r, agent)
	if !found {
		return
	}
	dst, _ := str(body, "dstaddress")
	dt, good1 := intField(body, "devicetype", 2)
	mode, good2 := intField(body, "mode", 1)
	if dst == "" || !good1 || !good2 || (dt != 1 && dt != 2) || (mode != 1 && mode != 2) {
		fail(w, codeBadParam, "invalid dstaddress, devicetype or mode")
		return
	}
	target := gateway.Target{Kind: gateway.TargetAgent, ID: dst}
	if dt == 1 {
		target = gateway.Target{Kind: gateway.TargetQueue, ID: e.queueOfSkill(dst)}
	}
	if !e.do(w, r, g, gateway.Command{Op: gateway.OpConsult, Target: target}, opCodes{noCall: "200-018"}) {
		return
	}
	if dt == 2 {
		e.mu.Lock()
		s.consulting = dst
		e.mu.Unlock()
	}
	ok(w, e.currentCallID(r, g, ""))
}

// handleConfJoin is POST voicecall/{agentid}/confjoin {"callid"}.
func (e *Emulator) handleConfJoin(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
	_, g, body, found := e.liveBody(w, r, agent)
	if !found {
		return
	}
	id, _ := str(body, "callid")
	cmd := gateway.Command{Op: gateway.OpConference, CallID: e.neutralCallID(id)}
	if e.do(w, r, g, cmd, opCodes{"200-010", "200-011"}) {
		ok(w, map[string]any{})
	}
}

// handleCallInfo is GET calldata/{agentid}/callinfo (table 6-202).
func (e *Emulator) handleCallInfo(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
	s, _, snap, found := e.liveState(w, r, agent)
	if !found {
		return
	}
	var c *gateway.CallInfo
	if len(snap.Calls) > 0 {
		c = &snap.Calls[0]
	} else if strings.EqualFold(r.URL.Query().Get("isNoContainLastCall"), "true") {
		e.mu.Lock()
		c = s.lastCall
		e.mu.Unlock()
	}
	if c == nil {
		ok(w, nil)
		return
	}
	ok(w, e.callInfoObject(c))
}

// handleCallInBeforeAnswer is GET calldata/{agentid}/callinbeforeanswer
// (6.1.3.5, table 6-219): the current call's CallInfo as before the
// answer; trace is reserved and null (seed line 12665), like callinfo
// without a call when there is none.
func (e *Emulator) handleCallInBeforeAnswer(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
	_, _, snap, found := e.liveState(w, r, agent)
	if !found {
		return
	}
	if len(snap.Calls) == 0 {
		ok(w, nil)
		return
	}
	ok(w, e.callInfoObject(&snap.Calls[0]))
}

// handleCallInfoByCallID is GET calldata/{agentid}/callinfobycallid/{callid}
// (6.1.3.6, table 6-223): the CallInfo of one of the agent's calls, ringing
// or connected; 100-007 when the agent has no call of that callid.
func (e *Emulator) handleCallInfoByCallID(w http.ResponseWriter, r *http.Request, agent string, args []string) {
	_, _, snap, found := e.liveState(w, r, agent)
	if !found {
		return
	}
	if c := e.callByHWID(snap, args[0]); c != nil {
		ok(w, e.callInfoObject(c))
		return
	}
	fail(w, codeOpFailed, "no such call")
}

// handleAppData is GET calldata/{agentid}/appdata?isEncodeResult=&callId=
// (6.1.3.2, table 6-205): the call data string of the named call (the
// URI spells callId, the table callid) or of the current call, base64
// when isEncodeResult is "true" (anything else is false, seed line 12321);
// 100-007 when there is no such call.
func (e *Emulator) handleAppData(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
	_, _, snap, found := e.liveState(w, r, agent)
	if !found {
		return
	}
	q := r.URL.Query()
	id := q.Get("callId")
	if id == "" {
		id = q.Get("callid")
	}
	var c *gateway.CallInfo
	switch {
	case id != "":
		c = e.callByHWID(snap, id)
	case len(snap.Calls) > 0:
		c = &snap.Calls[0]
	}
	if c == nil {
		fail(w, codeOpFailed, "no call")
		return
	}
	data := callDataString(c.Data)
	if q.Get("isEncodeResult") == "true" {
		data = base64.StdEncoding.EncodeToString([]byte(data))
	}
	ok(w, data)
}

// callByHWID is the call of snap whose Huawei callid is hw, or nil.
func (e *Emulator) callByHWID(snap gateway.Snapshot, hw string) *gateway.CallInfo {
	neutral := e.neutralCallID(hw)
	for i := range snap.Calls {
		if snap.Calls[i].ID == neutral {
			return &snap.Calls[i]
		}
	}
	return nil
}

// callDataString is a call's data as CC-Gateway's calldata string: the
// seed types it string (table 6-202) and recommends JSON for the call data
// applications give the CTI (line 25631), so the call center's data map
// is a JSON object's text; no data is "" as in the seed's examples.
func callDataString(data map[string]string) string {
	if len(data) == 0 {
		return ""
	}
	b, err := json.Marshal(data)
	if err != nil {
		return ""
	}
	return string(b)
}

// callInfoObject is the CallInfo of table 6-202 for a neutral call.
func (e *Emulator) callInfoObject(c *gateway.CallInfo) map[string]any {
	e.mu.Lock()
	id := e.hwCallIDLocked(c.ID)
	e.mu.Unlock()
	feature := 0
	if c.Direction == "outbound" {
		feature = 7
	}
	data := callDataString(c.Data)
	var begin any
	if !c.Since.IsZero() {
		begin = c.Since.UnixMilli()
	}
	return map[string]any{
		"callfeature": feature, "callid": id, "caller": c.Caller, "called": c.Callee,
		"callskill": c.Queue, "callskillid": e.skillID(c.Queue), "orgicallednum": "",
		"calldata": data, "begintime": begin, "endtime": nil, "userPriority": 0,
		"trunkNo": 65535, "logontimes": 0, "mediaType": 5, "mediaAbility": 1,
		"waitTime": 0, "trace": nil,
	}
}
