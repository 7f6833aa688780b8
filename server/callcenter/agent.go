package callcenter

import (
	"maps"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// setState moves a to st and tells its session. Becoming ready starts the
// agent's idle time, which orders the ACD's choice.
func (cc *CallCenter) setState(a *agent, st gateway.AgentState, reason string, af *after) {
	cc.moveState(a, st, reason)
	cc.tellState(a)
}

// tellState sends a's session its state.
func (cc *CallCenter) tellState(a *agent) {
	cc.emit(a, gateway.Event{Type: gateway.EvAgentState, State: a.state, Reason: a.reason, Deadline: a.deadline})
}

// moveState is setState without telling the session.
func (cc *CallCenter) moveState(a *agent, st gateway.AgentState, reason string) {
	if st != gateway.StateWrapUp {
		a.stopTimer()
		a.deadline = time.Time{}
	}
	if st == gateway.StateReady && a.state != gateway.StateReady {
		a.idleSince = cc.now()
	}
	if was, is := a.state == gateway.StateReady, st == gateway.StateReady; was != is && a.sess != nil {
		cc.countReady(a, is)
	}
	a.state, a.reason = st, reason
}

// countReady adds a signed-in agent who becomes ready to the ready count
// of each queue it joined (on), or takes one who stops being ready, signs
// out or leaves its queues off it. The counts make QueueFigures cheap
// however many agents there are.
func (cc *CallCenter) countReady(a *agent, on bool) {
	d := -1
	if on {
		d = 1
	}
	for _, id := range a.joined {
		if q := cc.queues[id]; q != nil {
			q.ready += d
		}
	}
}

// startWrapUp puts a in wrap-up after a call; it becomes ready by itself
// at the deadline.
func (cc *CallCenter) startWrapUp(a *agent, af *after) {
	if a.wrapUp < 0 {
		cc.setState(a, gateway.StateReady, "", af)
		return
	}
	a.stopTimer()
	a.deadline = cc.now().Add(a.wrapUp)
	cc.setState(a, gateway.StateWrapUp, "", af)
	cc.armWrapUp(a, a.wrapUp)
}

// armWrapUp makes a ready after d if it is still in the same wrap-up.
func (cc *CallCenter) armWrapUp(a *agent, d time.Duration) {
	gen := a.timerGen
	a.timer = time.AfterFunc(d, func() {
		cc.update(func(af *after) {
			if cc.closed || a.timerGen != gen || a.state != gateway.StateWrapUp {
				return
			}
			cc.setState(a, gateway.StateReady, "", af)
			cc.dispatch(af)
		})
	})
}

// restore puts a back where it was before an offer that came to nothing
// (the caller hung up, a consult was cancelled): a ready agent keeps its
// place in the ACD's order.
func (cc *CallCenter) restore(a *agent, s savedState, af *after) {
	switch s.state {
	case gateway.StateReady:
		cc.setState(a, gateway.StateReady, "", af)
		a.idleSince = s.idleSince
	case gateway.StateWrapUp:
		left := s.deadline.Sub(cc.now())
		if left <= 0 {
			cc.setState(a, gateway.StateReady, "", af)
			return
		}
		a.stopTimer()
		a.deadline = s.deadline
		cc.setState(a, gateway.StateWrapUp, "", af)
		cc.armWrapUp(a, left)
	case gateway.StateNotReady, gateway.StateRest:
		cc.setState(a, s.state, s.reason, af)
	default:
		cc.setState(a, gateway.StateNotReady, "", af)
	}
}

// emit sends ev to a's session, if signed in, in order.
func (cc *CallCenter) emit(a *agent, ev gateway.Event) {
	s := a.sess
	if s == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = cc.now()
	}
	s.events.post(func() { s.sink(ev) })
}

// callEvent tells l's agent something about l's call.
// The first event of a leg is preceded by its announcement.
func (cc *CallCenter) callEvent(l *leg, typ gateway.EventType, cause string) {
	cc.announce(l)
	cc.emit(l.agent, gateway.Event{Type: typ, Call: cc.callInfo(l), Cause: cause})
}

// announce tells l's agent of the call offered on l, once: its state
// (busy), call.incoming for an inbound call, then call.ringing. offer
// leaves this to the phone's first 18x, so that the INVITE reaches the
// phone ahead of these events: a browser phone handles one message at a
// time, and the page it redraws for them would hold the INVITE back. Any
// other event of the leg (answered, ended) announces it first, so the
// agent always hears of a call before what becomes of it.
func (cc *CallCenter) announce(l *leg) {
	if l.announced {
		return
	}
	l.announced = true
	cc.tellState(l.agent)
	ringing := func(typ gateway.EventType) {
		info := cc.callInfo(l)
		info.State, info.Since = "ringing", l.offered
		cc.emit(l.agent, gateway.Event{Type: typ, Call: info})
	}
	if l.dir == "inbound" {
		ringing(gateway.EvCallIncoming)
	}
	ringing(gateway.EvCallRinging)
}

// callInfo describes l's call as l's agent sees it.
func (cc *CallCenter) callInfo(l *leg) *gateway.CallInfo {
	c := l.call
	return &gateway.CallInfo{
		ID:        c.id,
		Direction: l.dir,
		Caller:    c.caller,
		Callee:    c.callee,
		Queue:     c.queue,
		Data:      maps.Clone(c.data),
		State:     viewState(l),
		Since:     l.since,
	}
}

// viewState is the state of l's call as its agent sees it.
func viewState(l *leg) string {
	c := l.call
	switch {
	case l.state == legRinging:
		return "ringing"
	case l.state == legEnded:
		return "ended"
	case c.conference:
		return "conference"
	case c.consult != nil && (l == c.consult || l == c.consultBy):
		return "consulting"
	case l.held:
		return "held"
	case l.role == roleDialer && c.target != nil:
		return "ringing"
	case l.role == roleDialer && c.liveParties() == 0 && c.connectedLegs() < 2:
		return "ringing"
	}
	return "talking"
}

// snapshot is a's state and calls.
func (cc *CallCenter) snapshot(a *agent) gateway.Snapshot {
	s := gateway.Snapshot{State: a.state, Reason: a.reason, Deadline: a.deadline}
	for _, l := range a.legs {
		s.Calls = append(s.Calls, *cc.callInfo(l))
	}
	return s
}
