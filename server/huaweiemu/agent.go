package huaweiemu

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// opTimeout bounds one call into the call center.
const opTimeout = 10 * time.Second

// routes is the operation table (engineering spec §4-§7).
func (e *Emulator) routes() map[string]route {
	const get, put, post, del = http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete
	return map[string]route{
		"onlineagent/":                {method: put, open: true, h: e.handleSignIn(false)},
		"onlineagent/forcelogin":      {method: put, open: true, h: e.handleSignIn(true)},
		"onlineagent/logout":          {method: del, h: e.handleLogout},
		"onlineagent/sayfree":         {method: post, h: e.handleSayFree},
		"onlineagent/saybusy":         {method: post, h: e.handleSayBusy},
		"onlineagent/cancelbusy":      {method: post, h: e.handleCancelBusy},
		"onlineagent/rest":            {method: post, nargs: 2, h: e.handleRest},
		"onlineagent/cancelrest":      {method: post, h: e.handleCancelRest},
		"onlineagent/work":            {method: post, h: e.handleWork},
		"onlineagent/cancelwork":      {method: post, h: e.handleCancelWork},
		"onlineagent/agentstatus":     {method: get, query: true, h: e.handleAgentStatus},
		"onlineagent/updateGuid":      {method: put, query: true, h: e.handleUpdateGuid},
		"onlineagent/agentskills":     {method: get, query: true, h: e.handleAgentSkills},
		"onlineagent/autoanswer":      {method: post, nargs: 1, h: e.handleAutoAnswer},
		"onlineagent/handshake":       {method: post, self: true, h: e.handleHandshake},
		"agentevent/":                 {method: get, self: true, h: e.handlePoll},
		"voicecall/callout":           {method: put, h: e.handleCallout(gateway.TargetNumber)},
		"voicecall/callinner":         {method: put, h: e.handleCallout(gateway.TargetAgent)},
		"voicecall/answer":            {method: put, h: e.handleAnswer},
		"voicecall/reject":            {method: post, h: e.handleReject},
		"voicecall/release":           {method: del, h: e.simple(gateway.OpHangup, opCodes{"200-017", "200-017"})},
		"voicecall/dropcall":          {method: post, nargs: 1, h: e.simple(gateway.OpHangup, opCodes{"200-025", "200-025"})},
		"voicecall/hold":              {method: post, h: e.simple(gateway.OpHold, opCodes{"200-013", "200-014"})},
		"voicecall/gethold":           {method: post, h: e.simple(gateway.OpResume, opCodes{"200-015", "200-016"})},
		"voicecall/beginmute":         {method: post, h: e.simple(gateway.OpMute, opCodes{"200-003", "200-004"})},
		"voicecall/endmute":           {method: post, h: e.simple(gateway.OpUnmute, opCodes{"200-007", "200-008"})},
		"voicecall/canceltransfer":    {method: post, h: e.simple(gateway.OpCancelConsult, opCodes{"200-012", "200-012"})},
		"voicecall/seconddial":        {method: post, h: e.handleSecondDial},
		"voicecall/transfer":          {method: post, h: e.handleTransfer},
		"voicecall/innerhelp":         {method: post, h: e.handleInnerHelp},
		"voicecall/confjoin":          {method: post, h: e.handleConfJoin},
		"calldata/callinfo":           {method: get, query: true, h: e.handleCallInfo},
		"calldata/callinbeforeanswer": {method: get, query: true, h: e.handleCallInBeforeAnswer},
		"calldata/callinfobycallid":   {method: get, query: true, nargs: 1, h: e.handleCallInfoByCallID},
		"calldata/appdata":            {method: get, query: true, h: e.handleAppData},
	}
}

// live is agent's session and gateway session, or a 100-006 answer.
func (e *Emulator) live(w http.ResponseWriter, agent string) (*session, gateway.Session, bool) {
	e.mu.Lock()
	s := e.sessions[agent]
	var g gateway.Session
	if s != nil {
		g = s.gw
	}
	e.mu.Unlock()
	if g == nil {
		fail(w, codeNotSignedIn, "agent not signed in")
		return nil, nil, false
	}
	return s, g, true
}

// do runs cmd and answers {} or the mapped refusal.
func (e *Emulator) do(w http.ResponseWriter, r *http.Request, g gateway.Session, cmd gateway.Command, oc opCodes) bool {
	ctx, cancel := context.WithTimeout(r.Context(), opTimeout)
	defer cancel()
	if err := g.Do(ctx, cmd); err != nil {
		fail(w, codeFor(err, oc), err.Error())
		return false
	}
	return true
}

// liveBody is live followed by reading the JSON body, answering a
// malformed one: the preamble of the operations that take parameters.
func (e *Emulator) liveBody(w http.ResponseWriter, r *http.Request, agent string) (*session, gateway.Session, map[string]any, bool) {
	s, g, found := e.live(w, agent)
	if !found {
		return nil, nil, nil, false
	}
	body, err := readBody(r)
	if err != nil {
		fail(w, codeBadParam, "malformed body")
		return nil, nil, nil, false
	}
	return s, g, body, true
}

// liveState is live followed by snapshot: the preamble of every operation
// that depends on the agent's state.
func (e *Emulator) liveState(w http.ResponseWriter, r *http.Request, agent string) (*session, gateway.Session, gateway.Snapshot, bool) {
	s, g, found := e.live(w, agent)
	if !found {
		return nil, nil, gateway.Snapshot{}, false
	}
	snap, found := e.snapshot(w, r, g)
	return s, g, snap, found
}

// snapshot is the agent's neutral state, or a refusal answered.
func (e *Emulator) snapshot(w http.ResponseWriter, r *http.Request, g gateway.Session) (gateway.Snapshot, bool) {
	ctx, cancel := context.WithTimeout(r.Context(), opTimeout)
	defer cancel()
	snap, err := g.Snapshot(ctx)
	if err != nil {
		fail(w, codeFor(err, opCodes{}), err.Error())
		return snap, false
	}
	return snap, true
}

// handleSignIn is PUT onlineagent/{agentid} (and /forcelogin): spec §4.1.
func (e *Emulator) handleSignIn(force bool) handler {
	return func(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
		body, err := readBody(r)
		if err != nil {
			fail(w, codeSignInParam, "malformed body")
			return
		}
		password, hasPW := str(body, "password")
		phone, hasPhone := str(body, "phonenum")
		autoAnswer, okAA := boolField(body, "autoanswer", true)
		agentType, okType := intField(body, "agenttype", 4)
		status, okStatus := intField(body, "status", 4)
		switch {
		case !hasPW || !hasPhone || phone == "" || !okAA || !okType || !okStatus:
			fail(w, codeSignInParam, "sign-in parameters empty or invalid")
			return
		case agentType != 4 && agentType != 11:
			fail(w, codeAgentType, "wrong agent type")
			return
		case status != 3 && status != 4 && status != 5:
			fail(w, codeSignInInvalid, "invalid status")
			return
		}
		callback, token, goodPush := pushMode(body)
		if !goodPush {
			fail(w, codeSignInParam, "invalid callbackUri or serviceToken")
			return
		}
		cred, known := e.cfg.Agents[agent]
		if !known || cred.Password != password {
			e.log.Info("huaweiemu: sign-in refused: wrong work number or password", "agent", agent)
			fail(w, codeBadPassword, "wrong user name or password")
			return
		}
		if cred.PhoneNumber != "" && cred.PhoneNumber != phone {
			fail(w, codePhoneInvalid, "phone invalid")
			return
		}
		lock := e.agentLock(agent)
		lock.Lock()
		defer lock.Unlock()

		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			fail(w, codeUnavailable, "gateway closed")
			return
		}
		old := e.sessions[agent]
		if old != nil && !force {
			e.mu.Unlock()
			fail(w, codeSignedIn, "agent already signed in")
			return
		}
		if old != nil {
			e.endLocked(old) // the call center's forced sign-in ends its gateway session
		}
		s := newSession(agent, e.now(), autoAnswer, status)
		s.callback, s.token = callback, token
		e.mu.Unlock()

		ctx, cancel := context.WithTimeout(r.Context(), opTimeout)
		defer cancel()
		g, err := e.cfg.Gateway.SignIn(ctx, agent, gateway.SignInOptions{Force: force, Phone: phone}, e.sink(s))
		if err != nil {
			code := codeFor(err, opCodes{})
			switch gateway.CodeOf(err) {
			case gateway.CodeUnavailable:
				code = codeUnavailable
			case gateway.CodeBadRequest:
				code = codeSignInParam
			}
			e.log.Info("huaweiemu: sign-in refused by the call center", "agent", agent, "code", code)
			fail(w, code, err.Error())
			return
		}
		e.mu.Lock()
		now := e.now()
		s.gw = g
		s.guid, s.guidAt, s.lastPoll = e.newGuidLocked(), now, now
		e.guids[s.guid] = &guidRec{s: s}
		e.sessions[agent] = s
		e.cmsSignedInLocked(agent, now)
		guid := s.guid
		if s.callback != "" && !e.closed {
			e.wg.Add(1)
			go e.deliver(s)
		}
		e.mu.Unlock()
		e.applySignInStatus(ctx, s, g, status)
		e.log.Info("huaweiemu: agent signed in", "agent", agent, "force", force, "status", status, "push", callback != "")
		setGuidHeaders(w, guid)
		writeJSON(w, http.StatusOK, reply{Retcode: codeOK, Result: map[string]any{
			"vdnid": 1, "workno": agent, "mediatype": "TTF", "loginTime": msString(now),
			"isForceChange": "false", "serverName": serverName, "timeRemaining": "",
		}})
	}
}

// applySignInStatus puts a freshly signed-in agent in the state the
// sign-in asked for (3 busy, 4 idle, 5 work); the call center starts a new
// session not ready, and a forced one where the agent was.
func (e *Emulator) applySignInStatus(ctx context.Context, s *session, g gateway.Session, status int) {
	snap, err := g.Snapshot(ctx)
	if err != nil || len(snap.Calls) > 0 {
		return
	}
	switch {
	case status == 4 && snap.State != gateway.StateReady:
		_ = g.Do(ctx, gateway.Command{Op: gateway.OpReady})
	case status == 3 && snap.State != gateway.StateNotReady:
		_ = g.Do(ctx, gateway.Command{Op: gateway.OpNotReady})
	case status == 5 && snap.State != gateway.StateNotReady:
		e.mu.Lock()
		s.askedWork = true
		e.mu.Unlock()
		_ = g.Do(ctx, gateway.Command{Op: gateway.OpNotReady})
	}
}

// handleLogout is DELETE onlineagent/{agentid}/logout: no effect during a
// call (seed line 8436; retcode 0, spec E18).
func (e *Emulator) handleLogout(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
	lock := e.agentLock(agent)
	lock.Lock()
	defer lock.Unlock()
	s, g, snap, found := e.liveState(w, r, agent)
	if !found {
		return
	}
	if len(snap.Calls) > 0 {
		ok(w, map[string]any{})
		return
	}
	e.mu.Lock()
	g = e.endLocked(s)
	e.mu.Unlock()
	e.closeGateway([]gateway.Session{g})
	e.log.Info("huaweiemu: agent signed out", "agent", agent)
	ok(w, map[string]any{})
}

// inWork tells whether s is in requested work (wrap-up) state.
func (e *Emulator) inWork(s *session) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return s.work
}

// handleSayFree is POST onlineagent/{agentid}/sayfree.
func (e *Emulator) handleSayFree(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
	s, g, snap, found := e.liveState(w, r, agent)
	if !found {
		return
	}
	op := gateway.OpReady
	if snap.State == gateway.StateWrapUp && !e.inWork(s) {
		op = gateway.OpWrapUpDone
	}
	if e.do(w, r, g, gateway.Command{Op: op}, opCodes{}) {
		ok(w, map[string]any{})
	}
}

// handleSayBusy is POST onlineagent/{agentid}/saybusy?reason=&prolong=.
func (e *Emulator) handleSayBusy(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
	s, g, found := e.live(w, agent)
	if !found {
		return
	}
	n := 0
	if v := r.URL.Query().Get("reason"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n != 0 && (n < 200 || n > 250) {
			fail(w, codeBadParam, "reason must be 200-250")
			return
		}
	}
	reason, known := e.neutralReason(n, false, 200)
	if !known {
		fail(w, codeBadParam, "unknown busy reason")
		return
	}
	snap, found := e.snapshot(w, r, g)
	if !found {
		return
	}
	if snap.State == gateway.StateNotReady && !e.inWork(s) && r.URL.Query().Get("prolong") != "true" {
		fail(w, codeIllegalState, "already busy")
		return
	}
	if e.do(w, r, g, gateway.Command{Op: gateway.OpNotReady, Reason: reason}, opCodes{}) {
		ok(w, map[string]any{})
	}
}

// handleCancelBusy is POST onlineagent/{agentid}/cancelbusy.
func (e *Emulator) handleCancelBusy(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
	s, g, snap, found := e.liveState(w, r, agent)
	if !found {
		return
	}
	if snap.State != gateway.StateNotReady || e.inWork(s) {
		fail(w, codeIllegalState, "not busy")
		return
	}
	if e.do(w, r, g, gateway.Command{Op: gateway.OpReady}, opCodes{}) {
		ok(w, map[string]any{})
	}
}

// handleRest is POST onlineagent/{agentid}/rest/{time}/{restcause}.
func (e *Emulator) handleRest(w http.ResponseWriter, r *http.Request, agent string, args []string) {
	_, g, found := e.live(w, agent)
	if !found {
		return
	}
	secs, err1 := strconv.Atoi(args[0])
	cause, err2 := strconv.Atoi(args[1])
	if err1 != nil || err2 != nil || secs < 1 || secs > 86399 || cause < 0 || cause > 255 {
		fail(w, codeBadParam, "time must be 1-86399 and cause 0-255")
		return
	}
	reason, known := e.neutralReason(cause, true, 1)
	if !known {
		fail(w, codeBadParam, "unknown rest cause")
		return
	}
	snap, found := e.snapshot(w, r, g)
	if !found {
		return
	}
	if snap.State == gateway.StateRest && r.URL.Query().Get("prolong") != "true" {
		fail(w, codeIllegalState, "already resting")
		return
	}
	cmd := gateway.Command{Op: gateway.OpRest, Reason: reason, Duration: time.Duration(secs) * time.Second}
	if e.do(w, r, g, cmd, opCodes{}) {
		ok(w, map[string]any{})
	}
}

// handleCancelRest is POST onlineagent/{agentid}/cancelrest.
func (e *Emulator) handleCancelRest(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
	_, g, snap, found := e.liveState(w, r, agent)
	if !found {
		return
	}
	if snap.State != gateway.StateRest {
		fail(w, codeIllegalState, "not resting")
		return
	}
	if e.do(w, r, g, gateway.Command{Op: gateway.OpReady}, opCodes{}) {
		ok(w, map[string]any{})
	}
}

// handleWork is POST onlineagent/{agentid}/work. The call center has no
// requested wrap-up, so the agent is made not ready and the emulator shows
// that as work (state 5) until cancelwork or sayfree.
func (e *Emulator) handleWork(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
	s, g, snap, found := e.liveState(w, r, agent)
	if !found {
		return
	}
	if (snap.State != gateway.StateReady && snap.State != gateway.StateNotReady) || e.inWork(s) || len(snap.Calls) > 0 {
		fail(w, codeIllegalState, "cannot enter work state now")
		return
	}
	e.mu.Lock()
	s.askedWork = true
	e.mu.Unlock()
	if !e.do(w, r, g, gateway.Command{Op: gateway.OpNotReady}, opCodes{}) {
		e.mu.Lock()
		s.askedWork = false
		e.mu.Unlock()
		return
	}
	ok(w, map[string]any{})
}

// handleCancelWork is POST onlineagent/{agentid}/cancelwork.
func (e *Emulator) handleCancelWork(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
	s, g, snap, found := e.liveState(w, r, agent)
	if !found {
		return
	}
	var op gateway.Op
	switch {
	case e.inWork(s) && snap.State == gateway.StateNotReady:
		op = gateway.OpReady
	case snap.State == gateway.StateWrapUp:
		op = gateway.OpWrapUpDone
	default:
		fail(w, codeIllegalState, "not in work state")
		return
	}
	if e.do(w, r, g, gateway.Command{Op: op}, opCodes{}) {
		ok(w, map[string]any{})
	}
}

// handleAgentStatus is GET onlineagent/{agentid}/agentstatus (table 6-74).
func (e *Emulator) handleAgentStatus(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
	s, _, snap, found := e.liveState(w, r, agent)
	if !found {
		return
	}
	st := neutralToHuawei(snap.State)
	if snap.State == gateway.StateNotReady && e.inWork(s) {
		st = 5
	}
	ok(w, map[string]any{"agentState": st, "isWorking": len(snap.Calls) > 0})
}

// handleUpdateGuid is PUT onlineagent/{agentid}/updateGuid.
func (e *Emulator) handleUpdateGuid(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
	s, _, found := e.live(w, agent)
	if !found {
		return
	}
	e.mu.Lock()
	e.rotateLocked(s, "")
	g := s.guid
	e.mu.Unlock()
	setGuidHeaders(w, g)
	ok(w, map[string]string{"guid": g})
}

// handleAgentSkills is GET onlineagent/{agentid}/agentskills (seed
// 6.1.1.5): the agent's queues as voice skills (mediatype 5).
func (e *Emulator) handleAgentSkills(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
	out := []map[string]any{}
	for _, q := range e.cfg.Agents[agent].Queues {
		name := q
		for _, cq := range e.cfg.Queues {
			if cq.ID == q && cq.Name != "" {
				name = cq.Name
			}
		}
		out = append(out, map[string]any{"name": name, "id": e.skillID(q), "mediatype": 5})
	}
	ok(w, out)
}

// handleAutoAnswer is POST onlineagent/{agentid}/autoanswer/{isautoanswer}.
func (e *Emulator) handleAutoAnswer(w http.ResponseWriter, r *http.Request, agent string, args []string) {
	s, _, found := e.live(w, agent)
	if !found {
		return
	}
	if len(args[0]) > 5 {
		fail(w, codeBadParam, "flag too long")
		return
	}
	e.mu.Lock()
	s.autoAnswer = args[0] == "true"
	e.mu.Unlock()
	ok(w, map[string]any{})
}

// handlePoll is GET agentevent/{agentid}: one event per response, held up
// to PollHold when none is queued (spec §7.1). An agent signed in for push
// mode gets 000-001, "wrong method of getting events" (seed line 13479).
func (e *Emulator) handlePoll(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
	s, code := e.authorize(r, agent, true)
	if code == "" && s.callback != "" {
		code = codeEventMethod
	}
	if code != "" {
		writeJSON(w, http.StatusOK, pollReply{Message: "agent not signed in, Guid invalid or push mode", Retcode: code})
		return
	}
	reqGuid := r.Header.Get("Guid")
	hold := time.NewTimer(e.cfg.PollHold)
	defer hold.Stop()
	for {
		e.mu.Lock()
		if !s.ended {
			s.lastPoll = e.now()
		}
		if len(s.queue) > 0 || s.ended {
			var ev *hwEvent
			if len(s.queue) > 0 {
				first := s.queue[0]
				ev = &first
				s.queue = s.queue[1:]
			}
			announce := e.rotateLocked(s, reqGuid)
			e.mu.Unlock()
			if announce != "" {
				setGuidHeaders(w, announce)
			}
			if ev == nil {
				writeJSON(w, http.StatusOK, pollReply{Message: "agent not signed in", Retcode: codeNotSignedIn})
				return
			}
			writeJSON(w, http.StatusOK, pollReply{Retcode: codeOK, Event: ev})
			return
		}
		wake := s.wake
		e.mu.Unlock()
		select {
		case <-wake:
			continue
		case <-r.Context().Done():
			return
		case <-e.done:
		case <-hold.C:
		}
		e.mu.Lock()
		if !s.ended {
			s.lastPoll = e.now()
		}
		announce := e.rotateLocked(s, reqGuid)
		e.mu.Unlock()
		if announce != "" {
			setGuidHeaders(w, announce)
		}
		writeJSON(w, http.StatusOK, pollReply{Retcode: codeOK})
		return
	}
}
