package callcenter

import (
	"github.com/agentbar/agentbar/proxy/gateway"
)

// Call-end causes reported in call.ended.
const (
	CauseAgentHangup    = "agent_hangup"    // the agent hung up (command or phone)
	CauseCustomerHangup = "customer_hangup" // the customer hung up
	CauseRemoteHangup   = "remote_hangup"   // the other agent or the dialled number hung up
	CauseTransferred    = "transferred"     // the agent transferred the call away
	CauseAbandoned      = "abandoned"       // the caller hung up while the agent's phone rang
	CauseConsultEnded   = "consult_canceled"
	CauseNoAnswer       = "no_answer" // the party called did not answer
	CauseFailed         = "failed"    // signalling or media failed
	CauseSignedOut      = "signed_out"
	CauseShutdown       = "shutdown"
)

// newCall registers a new call with the given bridge.
func (cc *CallCenter) newCall(direction, caller, callee string, data map[string]string, bridge Bridge) *call {
	c := &call{
		id: "c-" + randomID(8), created: cc.now(), direction: direction,
		caller: caller, callee: callee, data: data, bridge: bridge,
	}
	cc.calls[c.id] = c
	return c
}

// addParty joins p to c; a connected party's port enters the bridge.
func (cc *CallCenter) addParty(c *call, p *party) {
	p.call = c
	c.parties = append(c.parties, p)
	if p.connected || p.kind == partyTrunkIn {
		c.bridge.Add(p.port)
		p.inBridge = true
	}
	if p.sipID != "" {
		cc.trunkBySIP[p.sipID] = p
	}
}

// endLeg takes l off its call: the phone is hung up (or the INVITE
// cancelled), the agent moves on (wrap-up after a conversation, not ready
// after a refused or missed offer, back where it was otherwise), and the
// call goes on without l or ends.
func (cc *CallCenter) endLeg(l *leg, cause string, af *after) {
	if l.state == legEnded {
		return
	}
	c, a := l.call, l.agent
	was := l.state
	l.state = legEnded
	if l.ringTimer != nil {
		l.ringTimer.Stop()
	}
	switch {
	case was == legRinging:
		if l.cancelRing != nil {
			l.cancelRing() // the INVITE is cancelled
		}
	case !l.byPhone && l.dlg != nil:
		dlg := l.dlg
		l.ops.post(dlg.bye)
	}
	switch {
	case was == legConnected:
		a.day.talk += cc.now().Sub(l.since)
	case was == legRinging && (cause == ReasonMissed || cause == CauseFailed):
		a.day.missed++
	}
	if m := l.media; m != nil {
		if was == legConnected {
			c.bridge.Remove(m)
		}
		af.do(func() { m.Close() })
	}
	delete(cc.legsBySIP, l.sipID)
	c.legs = remove(c.legs, l)
	a.legs = remove(a.legs, l)
	if cause == CauseTransferred {
		cc.callEvent(l, gateway.EvCallTransferred, "")
	}
	cc.callEvent(l, gateway.EvCallEnded, cause)
	if len(a.legs) == 0 && a.sess != nil {
		switch {
		case was == legConnected:
			cc.startWrapUp(a, af)
		case cause == ReasonRejected:
			cc.stats.CallsRejected++
			cc.setState(a, gateway.StateNotReady, ReasonRejected, af)
		case cause == ReasonMissed || cause == CauseFailed:
			cc.stats.CallsMissed++
			cc.setState(a, gateway.StateNotReady, ReasonMissed, af)
		default:
			cc.restore(a, l.prev, af)
		}
	}
	if c.ended {
		return
	}
	cc.legGone(l, was, cause, af)
}

// legGone carries c on after leg l left it.
func (cc *CallCenter) legGone(l *leg, was legState, cause string, af *after) {
	c := l.call
	others := CauseRemoteHangup
	switch {
	case l == c.consult:
		by := c.consultBy
		c.consult, c.consultBy = nil, nil
		if by != nil && by.state == legConnected {
			cc.callEvent(by, gateway.EvConsultEnded, cause)
		}
	case l == c.consultBy:
		cons := c.consult
		c.consultBy = nil
		if cons.state == legConnected {
			// the consulting agent left: the consulted one keeps the customer
			c.consult = nil
			cons.role = roleHandler
			cc.stats.CallsTransfered++
			cc.callEvent(cons, gateway.EvCallTransferred, "")
		} else {
			cc.endLeg(cons, CauseConsultEnded, af)
		}
	}
	if was == legRinging && cause != CauseAbandoned {
		others = CauseNoAnswer
		if l.role == roleHandler && c.queue != "" && (l.fromQueue || c.liveParties() > 0) {
			cc.enqueue(c, c.queue, true, af) // back to the head of its queue
		}
	}
	if l.role == roleDialer && c.target != nil {
		cc.endCall(c, others, af)
		return
	}
	if c.conference && c.connectedLegs()+c.liveParties() < 3 {
		c.conference = false
		for _, m := range c.legs {
			if m.state == legConnected {
				cc.callEvent(m, gateway.EvConsultEnded, cause)
			}
		}
	}
	cc.applyHold(c)
	cc.checkEnd(c, others, af)
}
