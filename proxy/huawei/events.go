package huawei

import (
	"slices"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// isKnownPassThrough reports catalogue events (§8) with no neutral
// equivalent: they reach the bar as session.notice with the raw type, like
// unknown ones, but without the debug log.
func isKnownPassThrough(t string) bool {
	switch t {
	case "AgentOther_InService", "AgentOther_PhoneAlerting", "AgentOther_PhoneOffhook",
		"AgentOther_PhoneRelease", "AgentOther_PhoneBusy", "AgentOther_PhoneUnknow",
		"AgentOther_All_Agent_Busy", "AgentOther_Note", "AgentState_Rest_Timeout",
		"AgentMediaEvent_Record", "AgentMediaEvent_Record_Fail", "AgentMediaEvent_StopRecordDone",
		"AgentEvent_UserMediaAbility", "AgentEvent_MediaSwitth", "AgentEvent_MediaSwith",
		"AgentEvent_Preview", "AgentEvent_Preview_CallOut", "AgentEvent_Preview_CallOut_Ex",
		"AgentEvent_Agent_Occupied", "AgentEvent_Release_Preview", "QC_AgentState_Notify":
		return true
	}
	return false
}

// directionOf maps a call feature (table 6-455) to inbound or outbound.
func directionOf(feature string) string {
	switch feature {
	case "7", "40", "41", "43", "44", "45":
		return "outbound"
	}
	return "inbound"
}

// currentCall is the call a command without a call id applies to: the
// newest call not held, else the newest. Caller holds s.mu.
func (s *session) currentCall(id string) *trackedCall {
	if id != "" {
		return s.calls[id]
	}
	var held *trackedCall
	for _, cid := range slices.Backward(s.order) {
		tc := s.calls[cid]
		if cid == s.consultID {
			continue
		}
		if tc.info.State != "held" {
			return tc
		}
		if held == nil {
			held = tc
		}
	}
	return held
}

// track returns the tracked call id, creating it. Caller holds s.mu.
func (s *session) track(id string, c callContent) *trackedCall {
	tc, ok := s.calls[id]
	if !ok {
		tc = &trackedCall{info: gateway.CallInfo{ID: id, Direction: "inbound", Since: s.a.cfg.Now()}}
		if c.Feature != "" {
			tc.info.Direction = directionOf(c.Feature.String())
		}
		s.calls[id] = tc
		s.order = append(s.order, id)
	}
	if c.Caller != "" {
		tc.info.Caller = c.Caller.String()
	}
	if c.Called != "" {
		tc.info.Callee = c.Called.String()
	}
	if c.Feature != "" && !ok {
		tc.info.Direction = directionOf(c.Feature.String())
	}
	return tc
}

// forget drops a call. Caller holds s.mu.
func (s *session) forget(id string) {
	delete(s.calls, id)
	s.order = slices.DeleteFunc(s.order, func(x string) bool { return x == id })
	if id == s.consultID {
		s.consultID = ""
	}
}

// translate maps one Huawei event to neutral events (§15.4); stop is true
// when the agent is signed out.
func (s *session) translate(ev cecEvent) (out []gateway.Event, stop bool) {
	now := s.a.cfg.Now()
	c, err := decodeContent(ev.Content)
	if err != nil {
		s.a.log.Debug("huawei: event content unreadable", "agent", s.c.agent, "event", ev.EventType)
	}
	state := func(st gateway.AgentState, reason string) {
		out = append(out, s.stateEvent(st, reason))
	}
	notice := func(code, msg string) {
		out = append(out, gateway.Event{Type: gateway.EvNotice, Time: now, Code: code, Message: msg})
	}
	reason := c.Reason.String()
	if reason == "0" {
		reason = ""
	}
	s.mu.Lock()
	suppress := s.suppressReady
	if ev.EventType != "AgentOther_InService" {
		s.suppressReady = false
	}
	s.mu.Unlock()

	switch ev.EventType {
	// Agent state.
	case "AgentState_Ready":
		if !suppress {
			state(gateway.StateReady, "")
		}
	case "AgentState_CancelNotReady_Success", "AgentState_CancelWork_Success", "AgentState_CancelRest_Success":
		state(gateway.StateReady, "")
	case "AgentState_SetNotReady_Success", "AgentEvent_SetNotReady_Success":
		state(gateway.StateNotReady, reason)
	case "AgentState_SetRest_Success":
		state(gateway.StateRest, reason)
	case "AgentState_Work", "AgentState_SetWork_Success":
		state(gateway.StateWrapUp, "")
	case "AgentState_Busy":
		state(gateway.StateBusy, "")
	case "AgentOther_ShutdownService":
		return out, true
	case "Agent_Recover":
		notice(ev.EventType, "the contact center recovered this session; call events may be missing / 会话已恢复，部分呼叫事件可能丢失")
		if n, ok := c.AgentStatus.Int(); ok {
			if st := agentStateOf(n); st != gateway.StateSignedOut {
				state(st, "")
			}
		}
	case "AgentState_Rest_Timeout":
		notice(ev.EventType, "the rest time is over / 休息时间已到")
	case "OUTBOUND_DETECT_EVENT":
		notice("outbound_failed", c.Desc.String())

	// Calls.
	default:
		out = append(out, s.callEvent(ev.EventType, c, now)...)
	}
	return out, false
}

// callEvent maps the call events; anything else becomes a notice.
func (s *session) callEvent(t string, c callContent, now time.Time) []gateway.Event {
	id := c.id()
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := func(typ gateway.EventType, tc *trackedCall, cause string) gateway.Event {
		e := gateway.Event{Type: typ, Time: now, Cause: cause}
		if tc != nil {
			e.Call = cloneCall(tc.info)
		}
		return e
	}
	isConsult := func() bool { return id != "" && id == s.consultID }
	if id != "" && s.consultID == "" && s.consultTarget.ID != "" && s.calls[id] == nil &&
		(t == "AgentEvent_Customer_Alerting" || t == "AgentEvent_Talking") {
		s.consultID = id // a new leg while a consult is under way is the consult
	}
	switch t {
	case "AgentEvent_Incoming_CallInfo":
		tc := s.track(id, c)
		tc.info.Direction = "inbound"
		tc.info.State = "ringing"
		if c.SkillName != "" {
			tc.info.Queue = c.SkillName.String()
		} else {
			tc.info.Queue = c.SkillID.String()
		}
		if tc.info.Data == nil {
			tc.info.Data = map[string]string{}
		}
		if c.SkillID != "" {
			tc.info.Data["skillId"] = c.SkillID.String()
		}
		if c.MediaType != "" {
			tc.info.Data["mediaType"] = c.MediaType.String()
		}
		return []gateway.Event{ev(gateway.EvCallIncoming, tc, "")}
	case "AgentEvent_Ringing":
		tc := s.track(id, c)
		tc.info.State = "ringing"
		return []gateway.Event{ev(gateway.EvCallRinging, tc, "")}
	case "AgentEvent_Customer_Alerting":
		if tc, ok := s.calls[id]; ok && (tc.info.State == "held" || tc.info.State == "talking" || tc.info.State == "conference") {
			return nil // a consulted party rings while the agent's call goes on
		}
		if isConsult() {
			return nil
		}
		tc := s.track(id, c)
		tc.info.Direction = "outbound"
		if c.OtherPhone != "" {
			tc.info.Callee = c.OtherPhone.String()
		}
		tc.info.State = "ringing"
		return []gateway.Event{ev(gateway.EvCallRinging, tc, "")}
	case "AgentEvent_Auto_Answer", "AgentEvent_Talking":
		if isConsult() || (c.Type == "assistant" && s.calls[id] == nil) {
			if s.consultID == "" {
				s.consultID = id
			}
			tc := s.track(id, c)
			was := tc.info.State
			tc.info.State = "consulting"
			if was == "consulting" {
				return nil
			}
			return []gateway.Event{ev(gateway.EvConsultStarted, tc, "")}
		}
		tc := s.track(id, c)
		was := tc.info.State
		tc.info.State = "talking"
		switch was {
		case "held":
			return []gateway.Event{ev(gateway.EvCallResumed, tc, "")}
		case "talking", "conference":
			return nil
		}
		return []gateway.Event{ev(gateway.EvCallAnswered, tc, "")}
	case "AgentEvent_Hold":
		tc := s.track(id, c)
		tc.info.State = "held"
		return []gateway.Event{ev(gateway.EvCallHeld, tc, "")}
	case "AgentEvent_ReturnFromIvr":
		tc := s.track(id, c)
		tc.info.State = "talking"
		return []gateway.Event{ev(gateway.EvCallResumed, tc, "")}
	case "AgentEvent_Conference":
		tc := s.track(id, c)
		tc.info.State = "conference"
		if c.Partner != "" {
			if tc.info.Data == nil {
				tc.info.Data = map[string]string{}
			}
			tc.info.Data["partner"] = c.Partner.String()
		}
		if s.consultID != "" && s.consultID != id {
			s.forget(s.consultID)
		}
		s.consultID = ""
		s.consultTarget = gateway.Target{}
		return []gateway.Event{ev(gateway.EvConferenced, tc, "")}
	case "AgentEvent_Customer_Release":
		if isConsult() {
			tc := s.calls[id]
			s.forget(id)
			s.consultTarget = gateway.Target{}
			return []gateway.Event{ev(gateway.EvConsultEnded, tc, "consult_released")}
		}
		if tc, ok := s.calls[id]; ok {
			tc.remoteLeft = true
		}
		return nil
	case "AgentEvent_Call_Release", "AgentEvent_No_Answer", "AgentEvent_Call_Out_Fail",
		"AgentEvent_Inside_Call_Fail", "AgentEvent_Connect_Fail":
		tc, ok := s.calls[id]
		if isConsult() {
			s.forget(id)
			s.consultTarget = gateway.Target{}
			return []gateway.Event{ev(gateway.EvConsultEnded, tc, "consult_released")}
		}
		cause := map[string]string{
			"AgentEvent_Call_Release":     "agent_hangup",
			"AgentEvent_No_Answer":        "no_answer",
			"AgentEvent_Call_Out_Fail":    "call_failed",
			"AgentEvent_Inside_Call_Fail": "call_failed",
			"AgentEvent_Connect_Fail":     "connect_failed",
		}[t]
		if !ok {
			tc = &trackedCall{info: gateway.CallInfo{ID: id}}
		} else if tc.transfered {
			cause = "transferred"
		} else if tc.remoteLeft && t == "AgentEvent_Call_Release" {
			cause = "remote_hangup"
		}
		s.forget(id)
		if len(s.order) == 0 {
			s.consultID, s.consultTarget = "", gateway.Target{}
		}
		return []gateway.Event{ev(gateway.EvCallEnded, tc, cause)}
	case "AgentEvent_Consult_Fail":
		var tc *trackedCall
		if s.consultID != "" {
			tc = s.calls[s.consultID]
			s.forget(s.consultID)
		}
		s.consultID, s.consultTarget = "", gateway.Target{}
		e := ev(gateway.EvConsultEnded, tc, "consult_failed")
		if e.Call == nil && id != "" {
			e.Call = &gateway.CallInfo{ID: id}
		}
		return []gateway.Event{e}
	case "AgentEvent_SuccTransResult":
		tc := s.calls[id]
		if c.Result.String() != "0" {
			return []gateway.Event{{Type: gateway.EvNotice, Time: now, Code: "transfer_failed",
				Message: "the transfer did not succeed / 转接未成功"}}
		}
		if tc != nil {
			tc.transfered = true
		}
		return []gateway.Event{ev(gateway.EvCallTransferred, tc, "")}
	}
	if !isKnownPassThrough(t) {
		s.a.log.Debug("huawei: unknown event passed through", "agent", s.c.agent, "event", t)
	}
	return []gateway.Event{{Type: gateway.EvNotice, Time: now, Code: t}}
}
