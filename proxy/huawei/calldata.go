package huawei

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strings"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// How a call's data reaches the bar. CC-Gateway's call events carry no
// call data: AgentEvent_Incoming_CallInfo (seed line 19820-19840),
// AgentEvent_Ringing (line 19668-19690), AgentEvent_Auto_Answer (line
// 19644-19666) and AgentEvent_Talking (line 19437) give the callid, the
// numbers, the call type and (Incoming_CallInfo only) the skill. The call
// data (随路数据, a string of up to 16 KB) is read with the calldata
// queries: callinfobycallid (6.1.3.6, line 12714-12836) for the event's
// callid, and when that is refused, callinfo (6.1.3.1, line 12070-12290)
// for the agent's current call, used only if it is the same call. Both
// are flow-controlled queries (line 12059-12068), so they take their turn
// in paceQuery like every other query.
//
// The first event that brings a new inbound call (call.incoming, or
// call.ringing / call.answered when Incoming_CallInfo is not sent: it
// needs a CTI setting, line 19810-19813) waits for the read, bounded by
// Config.CallDataTimeout, and goes to the bar with the data; a failed or
// late read leaves the event as it was, logged at debug. Each call is
// read once.

// callDataMap is the calldata field of a CallInfo (table 6-202) decoded
// into the neutral call's Data. The seed types it string; applications
// usually store JSON text in it (the seed recommends JSON for the call
// data it hands the CTI, line 25631, and shows JSON kept in calldata,
// line 18308, 26361). A string holding a JSON object gives its members: a
// string, number or boolean member as its text, null as "", a nested
// object flattened into "outer.inner" keys, an array as its compact JSON
// text. Any other non-empty string is kept whole under "calldata". An
// object in place of the string is read the same way; an empty string or
// null is no data.
type callDataMap map[string]string

// UnmarshalJSON reads a calldata string (or, leniently, an object, an
// array or another scalar).
func (d *callDataMap) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*d = nil
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	switch b[0] {
	case '{':
		m := callDataMap{}
		if err := flattenObject(m, "", b); err != nil {
			return err
		}
		*d = m
		return nil
	case '[':
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			return err
		}
		*d = callDataMap{"calldata": buf.String()}
		return nil
	}
	var s flexString
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*d = decodeCallData(s.String())
	return nil
}

// decodeCallData reads calldata text: the members of a JSON object, or
// the text itself under "calldata"; nil when empty.
func decodeCallData(s string) callDataMap {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if strings.HasPrefix(s, "{") {
		m := callDataMap{}
		if flattenObject(m, "", []byte(s)) == nil {
			return m
		}
	}
	return callDataMap{"calldata": s}
}

// flattenObject adds the members of the JSON object raw to m, their keys
// prefixed with prefix.
func flattenObject(m callDataMap, prefix string, raw []byte) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return err
	}
	for k, v := range obj {
		key := prefix + k
		v = bytes.TrimSpace(v)
		switch {
		case len(v) > 0 && v[0] == '{':
			if err := flattenObject(m, key+".", v); err != nil {
				return err
			}
		case len(v) > 0 && v[0] == '[':
			var buf bytes.Buffer
			if err := json.Compact(&buf, v); err != nil {
				return err
			}
			m[key] = buf.String()
		default:
			var f flexString
			if err := json.Unmarshal(v, &f); err != nil {
				return err
			}
			m[key] = f.String()
		}
	}
	return nil
}

// needsCallData tells whether ev may bring a new inbound call whose data
// is still to be read.
func needsCallData(ev gateway.Event) bool {
	if ev.Call == nil || ev.Call.ID == "" || ev.Call.Direction != "inbound" {
		return false
	}
	switch ev.Type {
	case gateway.EvCallIncoming, gateway.EvCallRinging, gateway.EvCallAnswered:
		return true
	}
	return false
}

// addCallData reads the call data of the new inbound calls evs bring
// (once per call) and puts it on the tracked call and on evs.
func (s *session) addCallData(evs []gateway.Event) {
	if s.a.cfg.CallDataTimeout < 0 {
		return
	}
	for i := range evs {
		ev := &evs[i]
		if !needsCallData(*ev) {
			continue
		}
		id := ev.Call.ID
		s.mu.Lock()
		tc := s.calls[id]
		ask := tc != nil && !tc.dataAsked
		if ask {
			tc.dataAsked = true
		}
		s.mu.Unlock()
		if !ask {
			continue
		}
		ci, ok := s.readCallInfo(id)
		if !ok {
			continue
		}
		s.mu.Lock()
		if tc := s.calls[id]; tc != nil {
			mergeCallInfo(&tc.info, ci)
			for j := i; j < len(evs); j++ {
				if c := evs[j].Call; c != nil && c.ID == id {
					c.Caller, c.Callee, c.Queue = tc.info.Caller, tc.info.Callee, tc.info.Queue
					c.Data = maps.Clone(tc.info.Data)
				}
			}
		}
		s.mu.Unlock()
	}
}

// readCallInfo reads the CallInfo of call id within CallDataTimeout:
// callinfobycallid, else callinfo if the current call is id. False (and a
// debug log without the data) when neither gives it.
func (s *session) readCallInfo(id string) (callInfoResult, bool) {
	ctx, cancel := context.WithTimeout(s.ctx, s.a.cfg.CallDataTimeout)
	defer cancel()
	w := s.c.workNo
	ci, why := s.queryCallInfo(ctx, "calldata/"+w+"/callinfobycallid/"+url.PathEscape(id))
	if why == "" && ci.CallID.String() == id {
		return ci, true
	}
	if why == "" {
		why = "callinfobycallid: another or no call"
	}
	if ctx.Err() == nil {
		cur, why2 := s.queryCallInfo(ctx, "calldata/"+w+"/callinfo")
		if why2 == "" && cur.CallID.String() == id {
			return cur, true
		}
		if why2 == "" {
			why2 = "callinfo: another or no current call"
		}
		why += "; " + why2
	}
	if s.ctx.Err() == nil {
		s.a.log.Debug("huawei: call data not read; the call goes to the bar without it", "agent", s.c.agent, "call", id, "why", why)
	}
	return callInfoResult{}, false
}

// queryCallInfo GETs one CallInfo query; why says what went wrong ("" =
// read). It holds no data or secret.
func (s *session) queryCallInfo(ctx context.Context, path string) (callInfoResult, string) {
	op := opName(path)
	env, err := s.c.call(ctx, http.MethodGet, path, nil, nil, true)
	if err != nil {
		if ctx.Err() != nil {
			return callInfoResult{}, op + ": timed out"
		}
		return callInfoResult{}, op + ": " + string(gateway.CodeOf(err))
	}
	if rc := env.Retcode.String(); rc != "0" {
		return callInfoResult{}, op + ": retcode " + rc
	}
	var ci callInfoResult
	if r := bytes.TrimSpace(env.Result); len(r) == 0 || bytes.Equal(r, []byte("null")) {
		return ci, ""
	}
	if err := json.Unmarshal(env.Result, &ci); err != nil {
		return callInfoResult{}, op + ": result unreadable"
	}
	return ci, ""
}

// mergeCallInfo completes c with what a CallInfo adds: the numbers and
// the skill when the events gave none, skillId and mediaType, and the
// call data. A key already set keeps its value: what the events said
// (skillId and mediaType of AgentEvent_Incoming_CallInfo), then skillId
// and mediaType, win over call data members of the same name.
func mergeCallInfo(c *gateway.CallInfo, ci callInfoResult) {
	if c.Caller == "" {
		c.Caller = ci.Caller.String()
	}
	if c.Callee == "" {
		c.Callee = ci.Called.String()
	}
	if c.Queue == "" {
		c.Queue = ci.CallSkill.String()
	}
	add := func(k, v string) {
		if c.Data == nil {
			c.Data = map[string]string{}
		}
		if _, ok := c.Data[k]; !ok {
			c.Data[k] = v
		}
	}
	if n, ok := ci.CallSkillID.Int(); ok && n > 0 {
		add("skillId", ci.CallSkillID.String())
	}
	if ci.MediaType != "" {
		add("mediaType", ci.MediaType.String())
	}
	for k, v := range ci.CallData {
		add(k, v)
	}
}
