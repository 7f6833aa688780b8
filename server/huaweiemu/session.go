package huaweiemu

import (
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// Event type names (engineering spec §8, the seed's spelling).
const (
	eventInService        = "AgentOther_InService"
	eventShutdown         = "AgentOther_ShutdownService"
	eventPhoneAlerting    = "AgentOther_PhoneAlerting"
	eventPhoneOffhook     = "AgentOther_PhoneOffhook"
	eventPhoneRelease     = "AgentOther_PhoneRelease"
	eventReady            = "AgentState_Ready"
	eventBusy             = "AgentState_Busy"
	eventWork             = "AgentState_Work"
	eventSetNotReady      = "AgentState_SetNotReady_Success"
	eventCancelNotReady   = "AgentState_CancelNotReady_Success"
	eventSetRest          = "AgentState_SetRest_Success"
	eventCancelRest       = "AgentState_CancelRest_Success"
	eventSetWork          = "AgentState_SetWork_Success"
	eventCancelWork       = "AgentState_CancelWork_Success"
	eventIncoming         = "AgentEvent_Incoming_CallInfo"
	eventRinging          = "AgentEvent_Ringing"
	eventAutoAnswer       = "AgentEvent_Auto_Answer"
	eventTalking          = "AgentEvent_Talking"
	eventHold             = "AgentEvent_Hold"
	eventConference       = "AgentEvent_Conference"
	eventCallRelease      = "AgentEvent_Call_Release"
	eventCustomerRelease  = "AgentEvent_Customer_Release"
	eventNoAnswer         = "AgentEvent_No_Answer"
	eventCallOutFail      = "AgentEvent_Call_Out_Fail"
	eventOutboundDetect   = "OUTBOUND_DETECT_EVENT"
	eventCustomerAlerting = "AgentEvent_Customer_Alerting"
	eventConnectFail      = "AgentEvent_Connect_Fail"
	eventSuccTransResult  = "AgentEvent_SuccTransResult"
)

// hwEvent is one CC-Gateway event (table 6-248).
type hwEvent struct {
	EventType string `json:"eventType"`
	WorkNo    string `json:"workNo"`
	Content   any    `json:"content"`
}

// session is one signed-in agent as the emulated CC-Gateway sees it. All
// fields but agent are guarded by Emulator.mu.
type session struct {
	agent      string
	gw         gateway.Session // nil until the call center accepted the sign-in, and once ended
	loginTime  time.Time
	autoAnswer bool
	status     int // the state asked for at sign-in (3, 4 or 5)

	guid     string    // the current Guid
	guidAt   time.Time // when it was issued
	lastPoll time.Time // the last event poll (poll mode) or heartbeat (push mode)
	ended    bool
	endedAt  time.Time
	queue    []hwEvent
	wake     chan struct{} // closed when the queue grows or the session ends
	callback string        // push mode: where the queue is POSTed (callbackUri), fixed before the session is published; "" = poll mode
	token    string        // push mode: the service_token pushes carry, renewed by heartbeats

	// Translation state: what the neutral events said so far.
	seenState   bool
	state       gateway.AgentState
	expectReady bool // the ready that follows a status=4 sign-in is already told
	askedWork   bool // a work request waits for its not_ready
	work        bool // in requested work (Huawei state 5 on a neutral not_ready)
	offhook     map[string]bool
	calls       map[string]gateway.CallInfo // by neutral ID, while they last
	lastCall    *gateway.CallInfo
	transfers   map[string]*transfer // by neutral call ID: a transfer request under way
	consulting  string               // the work number innerhelp is consulting, while it lasts
}

// transfer is a voicecall transfer of one call: its mode (table 6-143)
// and target, and whether the target answered (talk transfer).
type transfer struct {
	mode     int
	target   string
	answered bool
}

func newSession(agent string, now time.Time, autoAnswer bool, status int) *session {
	return &session{
		agent: agent, loginTime: now, autoAnswer: autoAnswer, status: status,
		lastPoll: now, wake: make(chan struct{}),
		offhook: map[string]bool{}, calls: map[string]gateway.CallInfo{},
		transfers: map[string]*transfer{},
	}
}

// push queues an event for the poller.
func (s *session) push(typ string, content any) {
	s.queue = append(s.queue, hwEvent{EventType: typ, WorkNo: s.agent, Content: content})
	s.wakeLocked()
}

// wakeLocked wakes every waiting poller.
func (s *session) wakeLocked() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// huaweiState is the agent state of table 6-452 (agentstatus).
func (s *session) huaweiState() int {
	switch {
	case s.work:
		return 5
	}
	return neutralToHuawei(s.state)
}

// neutralToHuawei maps a neutral state to table 6-452.
func neutralToHuawei(st gateway.AgentState) int {
	switch st {
	case gateway.StateSignedOut:
		return 2
	case gateway.StateNotReady:
		return 3
	case gateway.StateReady:
		return 4
	case gateway.StateWrapUp:
		return 5
	case gateway.StateBusy:
		return 7
	case gateway.StateRest:
		return 8
	}
	return 0
}

// sink is the gateway event sink of s.
func (e *Emulator) sink(s *session) func(gateway.Event) {
	return func(ev gateway.Event) {
		e.mu.Lock()
		defer e.mu.Unlock()
		if s.ended {
			return
		}
		e.translateLocked(s, ev)
	}
}

// translateLocked turns one neutral event into the CC-Gateway events the
// seed's trigger lists give for it (spec §13).
func (e *Emulator) translateLocked(s *session, ev gateway.Event) {
	switch ev.Type {
	case gateway.EvAgentState:
		e.stateLocked(s, ev)
	case gateway.EvCallIncoming:
		c := e.callLocked(s, ev.Call)
		s.push(eventIncoming, map[string]any{
			"callId": c.id, "skillName": ev.Call.Queue, "skillId": e.skillID(ev.Call.Queue),
			"caller": ev.Call.Caller, "called": ev.Call.Callee, "lastReleaseAgentId": 65535,
			"mediaType": 5, "releaseAndReQueueCount": 0, "releaseAndReQueueCallFlag": 0,
		})
	case gateway.EvCallRinging:
		c := e.callLocked(s, ev.Call)
		s.push(eventPhoneAlerting, nil)
		if !s.autoAnswer && ev.Call.Direction == "inbound" {
			s.push(eventRinging, c.offer())
		}
	case gateway.EvCallAnswered, gateway.EvCallResumed:
		if ev.Type == gateway.EvCallAnswered {
			e.tallyAnsweredLocked(s.agent, ev.Call)
		}
		c := e.callLocked(s, ev.Call)
		if !s.offhook[ev.Call.ID] {
			s.offhook[ev.Call.ID] = true
			s.push(eventPhoneOffhook, map[string]string{"type": "main"})
			if s.autoAnswer && ev.Call.Direction == "inbound" {
				s.push(eventAutoAnswer, c.offer())
			}
		}
		s.push(eventTalking, c.talking("main"))
	case gateway.EvCallHeld:
		c := e.callLocked(s, ev.Call)
		s.push(eventHold, c.id)
	case gateway.EvConsultStarted:
		c := e.callLocked(s, ev.Call)
		if x := s.transfers[ev.Call.ID]; x != nil && x.mode == modeTalk {
			// Talk transfer: the agent talks with the target (seed line 21319).
			x.answered = true
			t := c.talking("main")
			t["called"] = x.target
			s.push(eventTalking, t)
			return
		}
		s.push(eventHold, c.id)
		s.push(eventTalking, c.talking("assistant"))
	case gateway.EvConsultEnded:
		c := e.callLocked(s, ev.Call)
		s.consulting = ""
		if x := s.transfers[ev.Call.ID]; x != nil && x.mode == modeTalk {
			// Cancelled or left (canceltransfer's events), or never reached.
			delete(s.transfers, ev.Call.ID)
			if x.answered || ev.Cause == consultCanceled {
				s.push(eventCustomerRelease, map[string]string{"callid": c.id, "number": x.target})
			} else {
				s.push(eventConnectFail, c.id)
			}
		}
		s.push(eventTalking, c.talking("main"))
	case gateway.EvConferenced:
		s.consulting = ""
		c := e.callLocked(s, ev.Call)
		s.push(eventConference, map[string]string{"callid": c.id, "partner": ev.Call.Caller + ", " + ev.Call.Callee})
	case gateway.EvCallEnded:
		e.endedLocked(s, ev)
	case gateway.EvNotice:
		if ev.Code == string(gateway.CodeSessionLost) || ev.Code == string(gateway.CodeSignedInElse) {
			e.log.Info("huaweiemu: the call center ended the session", "agent", s.agent, "code", ev.Code)
			e.endLocked(s) // the gateway session is already over
		}
	}
	// call.muted, call.unmuted, call.dtmf, call.transferred: no CC-Gateway
	// event (spec §13.5; a blind transfer is told by the release).
}

// stateLocked translates an agent.state event.
func (e *Emulator) stateLocked(s *session, ev gateway.Event) {
	prev, first := s.state, !s.seenState
	s.seenState, s.state = true, ev.State
	e.cmsStateLocked(s.agent, ev.State, ev.Reason)
	wasWork := s.work
	if ev.State != gateway.StateNotReady {
		s.work = false
	}
	if first {
		s.push(eventInService, nil)
		s.push(eventReady, nil)
		switch ev.State {
		case gateway.StateNotReady:
			switch s.status {
			case 4:
				s.expectReady = true
			case 5:
				s.work = true
				s.push(eventWork, nil)
			default:
				s.push(eventSetNotReady, map[string]string{"reason": e.busyReasonCode(ev.Reason)})
			}
		case gateway.StateRest:
			s.push(eventSetRest, map[string]string{"reason": e.restCauseCode(ev.Reason)})
		case gateway.StateWrapUp:
			s.push(eventWork, nil)
		case gateway.StateBusy:
			s.push(eventBusy, nil)
		}
		return
	}
	expect := s.expectReady
	s.expectReady = false
	switch ev.State {
	case gateway.StateReady:
		switch {
		case expect:
		case prev == gateway.StateNotReady && wasWork:
			s.push(eventCancelWork, nil)
		case prev == gateway.StateNotReady:
			s.push(eventCancelNotReady, nil)
		case prev == gateway.StateRest:
			s.push(eventCancelRest, nil)
		case prev == gateway.StateWrapUp:
			s.push(eventCancelWork, nil)
		default:
			s.push(eventReady, nil)
		}
	case gateway.StateNotReady:
		if s.askedWork {
			s.askedWork = false
			s.work = true
			s.push(eventSetWork, nil)
			return
		}
		s.work = false
		s.push(eventSetNotReady, map[string]string{"reason": e.busyReasonCode(ev.Reason)})
	case gateway.StateRest:
		s.push(eventSetRest, map[string]string{"reason": e.restCauseCode(ev.Reason)})
	case gateway.StateWrapUp:
		s.push(eventWork, nil)
	case gateway.StateBusy:
		s.push(eventBusy, nil)
	case gateway.StateSignedOut:
		e.endLocked(s)
	}
}

// endedLocked translates call.ended: who left, and how (spec §13.3-13.5).
func (e *Emulator) endedLocked(s *session, ev gateway.Event) {
	c := e.callLocked(s, ev.Call)
	info := *ev.Call
	s.lastCall = &info
	delete(s.calls, ev.Call.ID)
	answered := s.offhook[ev.Call.ID]
	delete(s.offhook, ev.Call.ID)
	x := s.transfers[ev.Call.ID]
	delete(s.transfers, ev.Call.ID)
	s.consulting = ""
	e.tallyEndedLocked(s.agent, ev)
	other := ev.Call.Caller
	if ev.Call.Direction == "outbound" {
		other = ev.Call.Callee
	}
	handedOver := ev.Cause == "transferred" || x != nil && x.mode == modeTalk && x.answered
	if handedOver {
		// The transfer events (seed line 10573-10582): the agent leaves,
		// the customer stays, so no AgentEvent_Customer_Release.
		if x != nil && x.mode == modeSuccess {
			s.push(eventSuccTransResult, map[string]any{"result": 0, "callId": c.id})
		}
		s.push(eventCallRelease, c.id)
		s.push(eventPhoneRelease, map[string]int{"phoneState": 2})
		return
	}
	switch {
	case !answered && ev.Call.Direction == "outbound" && ev.Cause != "agent_hangup":
		s.push(eventCallOutFail, c.id)
		s.push(eventOutboundDetect, map[string]any{"callid": c.id, "detect": detectCode(ev.Cause), "desc": ev.Cause})
		s.push(eventPhoneRelease, map[string]int{"phoneState": 3})
	case !answered && ev.Call.Direction == "inbound":
		if ev.Cause == "rejected" || ev.Cause == "no_answer" || ev.Cause == "missed" {
			s.push(eventNoAnswer, c.id)
		} else {
			s.push(eventCustomerRelease, map[string]string{"callid": c.id, "number": other})
			s.push(eventCallRelease, c.id)
		}
		s.push(eventPhoneRelease, map[string]int{"phoneState": 3})
	case ev.Cause == "agent_hangup" || ev.Cause == "signed_out":
		s.push(eventCallRelease, c.id)
		s.push(eventCustomerRelease, map[string]string{"callid": c.id, "number": other})
		s.push(eventPhoneRelease, map[string]int{"phoneState": 2})
	default:
		s.push(eventCustomerRelease, map[string]string{"callid": c.id, "number": other})
		s.push(eventCallRelease, c.id)
		s.push(eventPhoneRelease, map[string]int{"phoneState": 3})
	}
}

// detectCode is a CTI cause code (table 6-451) for a neutral cause.
func detectCode(cause string) int {
	switch cause {
	case "no_answer":
		return 147
	case "remote_hangup":
		return 1138
	}
	return 155
}

// hwCall is a call as the CC-Gateway events describe it.
type hwCall struct {
	id, caller, called, feature string
}

// callLocked remembers info and describes it with its Huawei callid.
func (e *Emulator) callLocked(s *session, info *gateway.CallInfo) hwCall {
	s.calls[info.ID] = *info
	feature := "0"
	if info.Direction == "outbound" {
		feature = "7"
	}
	return hwCall{id: e.hwCallIDLocked(info.ID), caller: info.Caller, called: info.Callee, feature: feature}
}

// offer is the content of AgentEvent_Ringing and AgentEvent_Auto_Answer.
func (c hwCall) offer() map[string]string {
	return map[string]string{
		"caller": c.caller, "called": c.called, "callid": c.id, "type": "main",
		"feature": c.feature, "mediaAbility": "1", "transfer": "no", "transfrom": "",
	}
}

// talking is the content of AgentEvent_Talking.
func (c hwCall) talking(typ string) map[string]string {
	return map[string]string{
		"caller": c.caller, "called": c.called, "callid": c.id, "type": typ,
		"feature": c.feature, "mediaAbility": "1",
	}
}
