package huawei

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// session is one signed-in agent: its connection, event loop and the state
// it has learnt from events.
type session struct {
	c    *conn
	a    *Adapter
	sink func(gateway.Event)

	emitMu   sync.Mutex // sink is called by one goroutine at a time
	sinkDone bool       // signed_out delivered; guarded by emitMu

	ctx    context.Context // the event loop's life
	cancel context.CancelFunc
	done   chan struct{}

	closeOnce sync.Once
	closeErr  error

	login  signInBody // the sign-in request, repeated by a re-sign-in (holds the password)
	queues []string   // the queues chosen at sign-in
	push   *pushState // push mode only
	skills []skill    // the agent's skills, once Stats read them; guarded by mu

	mu            sync.Mutex
	ended         bool // signed_out emitted
	state         gateway.AgentState
	reason        string
	suppressReady bool                    // drop the AgentState_Ready of the sign-in sequence
	calls         map[string]*trackedCall // by Huawei callid
	order         []string                // call ids, oldest first
	consultID     string                  // the consult leg's callid, if any
	consultTarget gateway.Target          // whom the agent consults
	lastEmitted   struct {
		st     gateway.AgentState
		reason string
	}
}

// trackedCall is a call the session has seen events for.
type trackedCall struct {
	info       gateway.CallInfo
	remoteLeft bool // AgentEvent_Customer_Release seen
	transfered bool // AgentEvent_SuccTransResult 0 seen
	dataAsked  bool // its call data was read (or tried): see addCallData
}

func newSession(c *conn, sink func(gateway.Event)) *session {
	ctx, cancel := context.WithCancel(context.Background())
	return &session{
		c: c, a: c.a, sink: sink,
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
		state: gateway.StateNotReady, suppressReady: true,
		calls: map[string]*trackedCall{},
	}
}

// emit hands one event to the sink, never concurrently.
func (s *session) emit(evs ...gateway.Event) {
	if len(evs) == 0 {
		return
	}
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	for _, ev := range evs {
		if ev.Type == "" || s.sinkDone {
			continue
		}
		if ev.Type == gateway.EvAgentState {
			s.mu.Lock()
			dup := s.lastEmitted.st == ev.State && s.lastEmitted.reason == ev.Reason
			s.lastEmitted.st, s.lastEmitted.reason = ev.State, ev.Reason
			s.mu.Unlock()
			if dup {
				continue
			}
		}
		s.sink(ev)
		if ev.Type == gateway.EvAgentState && ev.State == gateway.StateSignedOut {
			s.sinkDone = true // nothing follows signed_out
		}
	}
}

// stateEvent records the agent state and returns its event.
func (s *session) stateEvent(st gateway.AgentState, reason string) gateway.Event {
	s.mu.Lock()
	s.state, s.reason = st, reason
	s.mu.Unlock()
	return gateway.Event{Type: gateway.EvAgentState, Time: s.a.cfg.Now(), State: st, Reason: reason}
}

// endSession marks the session signed out and emits the notice and the
// signed_out state once.
func (s *session) endSession(code gateway.Code, msg string) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	s.mu.Unlock()
	now := s.a.cfg.Now()
	evs := []gateway.Event{}
	if msg != "" {
		evs = append(evs, gateway.Event{Type: gateway.EvNotice, Time: now, Code: string(code), Message: msg})
	}
	evs = append(evs, s.stateEvent(gateway.StateSignedOut, ""))
	s.emit(evs...)
	s.a.unregister(s)
}

func (s *session) isEnded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// sleep waits d on the injected clock; false when the loop must stop.
func (s *session) sleep(d time.Duration) bool {
	select {
	case <-s.ctx.Done():
		return false
	case <-s.a.cfg.After(d):
		return true
	}
}

// loop long-polls agentevent until the session ends (§7.1, §9): 200-500 ms
// between polls, at least ErrorBackoff after a non-200 answer, and a stop
// with signed_out on 000-001, 000-003 or 100-006.
func (s *session) loop() {
	defer close(s.done)
	cfg := s.a.cfg
	path := "agentevent/" + s.c.workNo
	for {
		env, err := s.c.callTimeout(s.ctx, http.MethodGet, path, nil, nil, true, cfg.PollTimeout, nil)
		if s.ctx.Err() != nil {
			return
		}
		wait := jitter(cfg.PollMinGap, cfg.PollMaxGap)
		switch {
		case err != nil:
			wait = cfg.ErrorBackoff
		case isFatalPollCode(env.Retcode.String()):
			if s.lost(env.Retcode.String()) {
				continue // poll again at once with the new Guid
			}
			return
		case env.Retcode != "0":
			s.a.log.Warn("huawei: event poll refused", "agent", s.c.agent, "retcode", env.Retcode.String())
			wait = cfg.ErrorBackoff
		default:
			if stop := s.handleRaw(env.Event); stop {
				return
			}
		}
		if !s.sleep(wait) {
			return
		}
	}
}

// lost handles a poll or heartbeat answer rc saying the session is gone:
// a re-sign-in when CC-Gateway forgot it (100-006, 000-003), else the end
// of the session. True when the session goes on.
func (s *session) lost(rc string) bool {
	if (rc == "100-006" || rc == "000-003") && s.resignIn(rc) {
		return true
	}
	if s.ctx.Err() != nil {
		return false
	}
	s.a.log.Info("huawei: agent signed out by the contact center", "agent", s.c.agent, "retcode", rc)
	s.endSession(gateway.CodeSessionLost, codeFor(s.a.codes, rc, "events").Message)
	return false
}

// resignIn signs the agent in again after CC-Gateway forgot the session
// (rc, on the event poll): up to ResignInAttempts sign-ins, the first at
// once, then after ResignInBackoff doubling each time. A refusal that
// retrying cannot cure (wrong password, signed in elsewhere, bad
// parameters) stops early. On success the calls the session tracked are
// ended, and the page gets a notice and the fresh state (not ready).
func (s *session) resignIn(rc string) bool {
	cfg := s.a.cfg
	if cfg.ResignInAttempts < 0 {
		return false
	}
	s.a.log.Info("huawei: the contact center lost the session, signing the agent in again", "agent", s.c.agent, "retcode", rc)
	backoff := cfg.ResignInBackoff
	for i := range cfg.ResignInAttempts {
		if i > 0 {
			if !s.sleep(backoff) {
				return false
			}
			backoff *= 2
		}
		body := s.login
		if s.push != nil {
			body.ServiceToken = s.push.current()
		}
		_, err := s.a.login(s.ctx, s.c, body, false)
		if s.ctx.Err() != nil {
			return false
		}
		if err == nil {
			if s.push != nil {
				s.push.confirm(body.ServiceToken)
			}
			s.restarted()
			s.a.log.Info("huawei: agent signed in again", "agent", s.c.agent, "attempt", i+1)
			return true
		}
		code := gateway.CodeOf(err)
		s.a.log.Warn("huawei: re-sign-in failed", "agent", s.c.agent, "attempt", i+1, "code", string(code))
		switch code {
		case gateway.CodeUnknownAgent, gateway.CodeSignedInElse, gateway.CodeBadRequest:
			return false
		}
	}
	return false
}

// restarted resets the session after a re-sign-in: the calls it tracked
// are gone with the old session; the agent starts not ready again.
func (s *session) restarted() {
	now := s.a.cfg.Now()
	s.mu.Lock()
	var evs []gateway.Event
	for _, id := range s.order {
		evs = append(evs, gateway.Event{Type: gateway.EvCallEnded, Time: now, Call: cloneCall(s.calls[id].info), Cause: "session_lost"})
	}
	s.calls, s.order = map[string]*trackedCall{}, nil
	s.consultID, s.consultTarget = "", gateway.Target{}
	s.suppressReady = true
	s.lastEmitted.st, s.lastEmitted.reason = "", "" // the page must get the fresh state even if unchanged
	s.mu.Unlock()
	evs = append(evs, gateway.Event{Type: gateway.EvNotice, Time: now, Code: "session_restored",
		Message: "the contact center lost the session; the agent was signed in again and is not ready / 呼叫中心会话丢失，已重新签入（未就绪）"})
	evs = append(evs, s.stateEvent(gateway.StateNotReady, ""))
	s.emit(evs...)
	s.joinQueues(s.ctx)
}

// joinQueues puts the agent in the queues chosen at sign-in, if any.
func (s *session) joinQueues(ctx context.Context) {
	if len(s.queues) == 0 {
		return
	}
	q := url.Values{"skillid": {strings.Join(s.queues, ";")}, "phonelinkage": {"0"}}
	if env, err := s.c.call(ctx, http.MethodPost, "onlineagent/"+s.c.workNo+"/resetskill/false", q, nil, true); err != nil || env.Retcode != "0" {
		s.a.log.Warn("huawei: joining queues failed", "agent", s.c.agent)
		s.emit(gateway.Event{Type: gateway.EvNotice, Time: s.a.cfg.Now(), Code: "queues_not_joined",
			Message: "could not join the chosen queues / 无法签入所选技能队列"})
	}
}

// handleRaw decodes one polled event (absent or null = none) and emits
// its neutral events; true when the agent is now signed out.
func (s *session) handleRaw(raw json.RawMessage) bool {
	if len(raw) == 0 || string(raw) == "null" {
		return false
	}
	var ev cecEvent
	if err := json.Unmarshal(raw, &ev); err != nil || ev.EventType == "" {
		s.a.log.Warn("huawei: unreadable event skipped", "agent", s.c.agent)
		return false
	}
	evs, stop := s.translate(ev)
	s.addCallData(evs)
	s.emit(evs...)
	if stop {
		s.a.log.Info("huawei: agent signed out (AgentOther_ShutdownService)", "agent", s.c.agent)
		s.endSession(gateway.CodeSessionLost, "the contact center signed the agent out / 呼叫中心已将座席签出")
	}
	return stop
}

// Do carries out one neutral command (§15.1 mapping).
func (s *session) Do(ctx context.Context, cmd gateway.Command) error {
	if s.isEnded() {
		return gateway.Errorf(gateway.CodeSessionLost, "the agent is signed out / 座席已签出")
	}
	req, err := s.plan(cmd)
	if err != nil {
		return err
	}
	if cmd.Op == gateway.OpConsult {
		// Set before sending: the consult leg's events may arrive before
		// the answer carrying its callid.
		s.mu.Lock()
		s.consultTarget = cmd.Target
		s.mu.Unlock()
	}
	env, err := s.c.call(ctx, req.method, req.path, req.query, req.body, true)
	if err == nil && env.Retcode != "0" {
		err = codeFor(s.a.codes, env.Retcode.String(), string(cmd.Op))
		s.a.log.Info("huawei: command refused", "agent", s.c.agent, "op", string(cmd.Op), "retcode", env.Retcode.String())
	}
	if err != nil {
		if cmd.Op == gateway.OpConsult {
			s.mu.Lock()
			s.consultTarget = gateway.Target{}
			s.mu.Unlock()
		}
		return err
	}
	s.a.log.Debug("huawei: command accepted", "agent", s.c.agent, "op", string(cmd.Op))
	s.after(cmd, env)
	return nil
}

// after updates the session after an accepted command and emits the
// events Huawei does not send itself (mute has no event).
func (s *session) after(cmd gateway.Command, env *envelope) {
	now := s.a.cfg.Now()
	switch cmd.Op {
	case gateway.OpMute, gateway.OpUnmute:
		s.mu.Lock()
		tc := s.currentCall(cmd.CallID)
		var info *gateway.CallInfo
		if tc != nil {
			info = cloneCall(tc.info)
		}
		s.mu.Unlock()
		t := gateway.EvCallMuted
		if cmd.Op == gateway.OpUnmute {
			t = gateway.EvCallUnmuted
		}
		s.emit(gateway.Event{Type: t, Time: now, Call: info})
	case gateway.OpConsult:
		s.mu.Lock()
		if id := decodeResultString(env.Result); id != "" && s.consultID == "" {
			s.consultID = id
		}
		s.mu.Unlock()
	case gateway.OpDTMF:
		s.emit(gateway.Event{Type: gateway.EvDTMF, Time: now, Digits: cmd.Digits})
	}
}

// request is one planned CC-Gateway call.
type request struct {
	method, path string
	query        url.Values
	body         any
}

// plan maps a neutral command to its CC-Gateway operation.
func (s *session) plan(cmd gateway.Command) (request, error) {
	w := s.c.workNo
	oa := func(m, op string) request { return request{method: m, path: "onlineagent/" + w + "/" + op} }
	vc := func(m, op string) request { return request{method: m, path: "voicecall/" + w + "/" + op} }
	s.mu.Lock()
	state := s.state
	consultTarget := s.consultTarget
	heldID := ""
	for _, id := range s.order {
		if s.calls[id].info.State == "held" {
			heldID = id
		}
	}
	s.mu.Unlock()

	switch cmd.Op {
	case gateway.OpReady:
		switch state {
		case gateway.StateRest:
			return oa(http.MethodPost, "cancelrest"), nil
		case gateway.StateWrapUp:
			return oa(http.MethodPost, "cancelwork"), nil
		}
		return oa(http.MethodPost, "sayfree"), nil
	case gateway.OpNotReady:
		n, err := reasonCode(cmd.Reason, 200, 250)
		if err != nil {
			return request{}, err
		}
		r := oa(http.MethodPost, "saybusy")
		r.query = url.Values{"reason": {strconv.Itoa(n)}}
		if state == gateway.StateNotReady {
			r.query.Set("prolong", "true")
		}
		return r, nil
	case gateway.OpRest:
		n, err := reasonCode(cmd.Reason, 0, 255)
		if err != nil {
			return request{}, err
		}
		d := cmd.Duration
		if d == 0 {
			d = s.a.cfg.DefaultRest
		}
		secs := int((d + time.Second - 1) / time.Second)
		if secs < 1 || secs > 86399 {
			return request{}, gateway.Errorf(gateway.CodeBadRequest, "rest length must be 1 s to 86399 s / 休息时长须为 1-86399 秒")
		}
		r := oa(http.MethodPost, "rest/"+strconv.Itoa(secs)+"/"+strconv.Itoa(n))
		if state == gateway.StateRest {
			r.query = url.Values{"prolong": {"true"}}
		}
		return r, nil
	case gateway.OpWrapUpDone:
		return oa(http.MethodPost, "cancelwork"), nil
	case gateway.OpAnswer:
		r := vc(http.MethodPut, "answer")
		if cmd.CallID != "" {
			r.query = url.Values{"callid": {cmd.CallID}}
		}
		return r, nil
	case gateway.OpReject:
		body := map[string]any{"mode": 1}
		if cmd.CallID != "" {
			body["callid"] = cmd.CallID
		}
		r := vc(http.MethodPost, "reject")
		r.body = body
		return r, nil
	case gateway.OpHangup:
		if cmd.CallID != "" {
			s.mu.Lock()
			tc := s.currentCall("")
			s.mu.Unlock()
			if tc == nil || tc.info.ID != cmd.CallID {
				return vc(http.MethodPost, "dropcall/"+url.PathEscape(cmd.CallID)), nil
			}
		}
		return vc(http.MethodDelete, "release"), nil
	case gateway.OpHold:
		return vc(http.MethodPost, "hold"), nil
	case gateway.OpResume:
		r := vc(http.MethodPost, "gethold")
		id := cmd.CallID
		if id == "" {
			id = heldID
		}
		if id != "" {
			r.query = url.Values{"callid": {id}}
		}
		return r, nil
	case gateway.OpMute:
		return vc(http.MethodPost, "beginmute"), nil
	case gateway.OpUnmute:
		return vc(http.MethodPost, "endmute"), nil
	case gateway.OpDTMF:
		if !validDigits(cmd.Digits) {
			return request{}, gateway.Errorf(gateway.CodeBadRequest, "DTMF digits must be 1-24 of 0-9 * # / 二次拨号须为 1-24 位 0-9*#")
		}
		r := vc(http.MethodPost, "seconddial")
		r.query = url.Values{"number": {cmd.Digits}}
		return r, nil
	case gateway.OpTransfer:
		dt, err := transferDevice(cmd.Target)
		if err != nil {
			return request{}, err
		}
		r := vc(http.MethodPost, "transfer")
		r.body = map[string]any{"devicetype": dt, "address": cmd.Target.ID, "mode": 2}
		return r, nil
	case gateway.OpCompleteTransfer:
		t := cmd.Target
		if t.ID == "" {
			t = consultTarget
		}
		if t.ID == "" {
			return request{}, gateway.Errorf(gateway.CodeNoCall, "no consultation to complete / 没有可完成转接的咨询")
		}
		dt, err := transferDevice(t)
		if err != nil {
			return request{}, err
		}
		r := vc(http.MethodPost, "transfer")
		r.body = map[string]any{"devicetype": dt, "address": t.ID, "mode": 0}
		return r, nil
	case gateway.OpConsult:
		var dt int
		switch cmd.Target.Kind {
		case gateway.TargetAgent:
			dt = 2
		case gateway.TargetQueue:
			dt = 1
		default:
			return request{}, gateway.Errorf(gateway.CodeUnsupported, "consultation reaches agents and queues only / 咨询仅支持座席和技能队列")
		}
		if cmd.Target.ID == "" {
			return request{}, gateway.Errorf(gateway.CodeBadRequest, "consultation needs a target / 咨询需要目标")
		}
		r := vc(http.MethodPost, "innerhelp")
		r.body = map[string]any{"dstaddress": cmd.Target.ID, "devicetype": dt, "mode": 1, "holdflag": true}
		return r, nil
	case gateway.OpConference:
		id := cmd.CallID
		if id == "" {
			id = heldID
		}
		if id == "" {
			return request{}, gateway.Errorf(gateway.CodeNoCall, "no held call to join / 没有可加入会议的保持呼叫")
		}
		r := vc(http.MethodPost, "confjoin")
		r.body = map[string]any{"callid": id, "callappdata": ""}
		return r, nil
	case gateway.OpCancelConsult:
		if consultTarget.Kind == gateway.TargetAgent && consultTarget.ID != "" {
			return vc(http.MethodPost, "disconnect/"+url.PathEscape(consultTarget.ID)), nil
		}
		return vc(http.MethodPost, "canceltransfer"), nil
	case gateway.OpDial:
		switch cmd.Target.Kind {
		case gateway.TargetAgent:
			if cmd.Target.ID == "" {
				return request{}, gateway.Errorf(gateway.CodeBadRequest, "dial needs a work number / 拨号需要工号")
			}
			r := vc(http.MethodPut, "callinner")
			r.body = map[string]any{"called": cmd.Target.ID}
			return r, nil
		case gateway.TargetNumber, "":
			if !validDigits(cmd.Target.ID) {
				return request{}, gateway.Errorf(gateway.CodeBadRequest, "the number must be 1-24 of 0-9 * # / 号码须为 1-24 位 0-9*#")
			}
			r := vc(http.MethodPut, "callout")
			r.body = map[string]any{"called": cmd.Target.ID}
			return r, nil
		default:
			return request{}, gateway.Errorf(gateway.CodeUnsupported, "cannot dial a queue / 不支持拨打技能队列")
		}
	}
	return request{}, gateway.Errorf(gateway.CodeUnsupported, "unknown command %q / 不支持的操作", string(cmd.Op))
}

// reasonCode parses a reason code in lo-hi; "" and "0" mean none (0).
func reasonCode(s string, lo, hi int) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || (n != 0 && (n < lo || n > hi)) {
		return 0, gateway.Errorf(gateway.CodeBadRequest, "reason must be a number in %d-%d / 原因码须在 %d-%d 之间", lo, hi, lo, hi)
	}
	return n, nil
}

// validDigits checks a dial or DTMF string: 1-24 of 0-9 * # (the CTI's
// rule for callout and seconddial).
func validDigits(s string) bool {
	if len(s) < 1 || len(s) > 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '*' || c == '#') {
			return false
		}
	}
	return true
}

// transferDevice is the transfer devicetype of a target (table 6-143).
func transferDevice(t gateway.Target) (int, error) {
	if t.ID == "" || len(t.ID) > 24 {
		return 0, gateway.Errorf(gateway.CodeBadRequest, "transfer needs a target of at most 24 characters / 转接目标须为 1-24 个字符")
	}
	switch t.Kind {
	case gateway.TargetQueue:
		return 1, nil
	case gateway.TargetAgent:
		return 2, nil
	case gateway.TargetNumber:
		return 5, nil
	}
	return 0, gateway.Errorf(gateway.CodeBadRequest, "unknown transfer target kind / 未知转接目标类型")
}

// Snapshot asks agentstatus (and callinfo while in a call) and merges the
// calls the session tracks. It does not use updateGuid or syncagentinfo,
// the seed's page-refresh operations: the proxy, not the page, owns the
// session and its current Guid, and syncagentinfo empties the event queue
// the session reads (seed line 9096) — see doc.go.
func (s *session) Snapshot(ctx context.Context) (gateway.Snapshot, error) {
	if s.isEnded() {
		return gateway.Snapshot{State: gateway.StateSignedOut}, nil
	}
	w := s.c.workNo
	env, err := s.c.call(ctx, http.MethodGet, "onlineagent/"+w+"/agentstatus", nil, nil, true)
	if err != nil {
		return gateway.Snapshot{}, err
	}
	if rc := env.Retcode.String(); rc != "0" {
		return gateway.Snapshot{}, codeFor(s.a.codes, rc, "snapshot")
	}
	var st agentStatusResult
	if err := json.Unmarshal(env.Result, &st); err != nil {
		return gateway.Snapshot{}, gateway.Errorf(gateway.CodeUnavailable, "agent status unreadable / 座席状态无法解析")
	}
	code, _ := st.AgentState.Int()
	snap := gateway.Snapshot{State: agentStateOf(code)}
	s.mu.Lock()
	if snap.State == s.state {
		snap.Reason = s.reason
	}
	for _, id := range s.order {
		snap.Calls = append(snap.Calls, *cloneCall(s.calls[id].info))
	}
	s.mu.Unlock()
	if len(snap.Calls) == 0 && (st.IsWorking.Bool() || code == 7) {
		env, err := s.c.call(ctx, http.MethodGet, "calldata/"+w+"/callinfo", nil, nil, true)
		if err == nil && env.Retcode == "0" {
			var ci callInfoResult
			if json.Unmarshal(env.Result, &ci) == nil && ci.CallID != "" {
				snap.Calls = append(snap.Calls, callFromInfo(ci))
			}
		}
	}
	return snap, nil
}

// agentStateOf maps table 6-452 to the neutral state.
func agentStateOf(code int64) gateway.AgentState {
	switch code {
	case 2:
		return gateway.StateSignedOut
	case 4, 6:
		return gateway.StateReady
	case 5:
		return gateway.StateWrapUp
	case 7:
		return gateway.StateBusy
	case 8, 9:
		return gateway.StateRest
	}
	return gateway.StateNotReady
}

// callFromInfo builds a neutral call from calldata callinfo.
func callFromInfo(ci callInfoResult) gateway.CallInfo {
	c := gateway.CallInfo{
		ID: ci.CallID.String(), Direction: directionOf(ci.CallFeature.String()),
		Caller: ci.Caller.String(), Callee: ci.Called.String(), Queue: ci.CallSkill.String(),
		State: "talking",
	}
	if ms, ok := ci.BeginTime.Int(); ok && ms > 0 {
		c.Since = time.UnixMilli(ms)
	}
	mergeCallInfo(&c, ci)
	return c
}

// Close stops the event loop and signs the agent out.
func (s *session) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.done
		if s.isEnded() {
			return
		}
		// A push-mode goodbye to this sign-out is not a lost session.
		s.a.unregister(s)
		lock := s.a.agentLock(s.c.workNo)
		lock.Lock()
		env, err := s.c.call(ctx, http.MethodDelete, "onlineagent/"+s.c.workNo+"/logout", nil, nil, true)
		lock.Unlock()
		switch {
		case err != nil:
			s.closeErr = err
		case env.Retcode == "0", env.Retcode == "100-006", env.Retcode == "100-008":
		default:
			s.closeErr = codeFor(s.a.codes, env.Retcode.String(), "sign-out")
		}
		var ge *gateway.Error
		if s.closeErr != nil && errors.As(s.closeErr, &ge) {
			s.a.log.Warn("huawei: sign-out failed", "agent", s.c.agent, "code", string(ge.Code))
		} else {
			s.a.log.Info("huawei: agent signed out", "agent", s.c.agent)
		}
		s.endSession("", "")
	})
	return s.closeErr
}

// cloneCall copies a call for an event or snapshot.
func cloneCall(c gateway.CallInfo) *gateway.CallInfo {
	c.Data = maps.Clone(c.Data)
	return &c
}
