package callcenter

import (
	"github.com/agentbar/agentbar/proxy/gateway"
)

// checkTarget validates a transfer, consult or dial target for agent a.
func (cc *CallCenter) checkTarget(a *agent, t gateway.Target) error {
	switch t.Kind {
	case gateway.TargetAgent:
		b := cc.agents[t.ID]
		switch {
		case b == nil:
			return gateway.Errorf(gateway.CodeBadRequest, "no agent %q", t.ID)
		case b == a:
			return gateway.Errorf(gateway.CodeBadRequest, "cannot reach yourself")
		case !cc.available(b):
			return gateway.Errorf(gateway.CodeNotAllowed, "agent %q is not available", t.ID)
		}
	case gateway.TargetQueue:
		if cc.queues[t.ID] == nil {
			return gateway.Errorf(gateway.CodeBadRequest, "no queue %q", t.ID)
		}
	case gateway.TargetNumber:
		if !isNumber(t.ID) {
			return gateway.Errorf(gateway.CodeBadRequest, "invalid number %q", t.ID)
		}
	default:
		return gateway.Errorf(gateway.CodeBadRequest, "target kind must be agent, queue or number")
	}
	return nil
}

// isNumber tells whether s looks like a phone number.
func isNumber(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i, r := range s {
		if !(r >= '0' && r <= '9' || r == '*' || r == '#' || r == '+' && i == 0) {
			return false
		}
	}
	return true
}

// transferable refuses a call that cannot be handed on now.
func transferable(l *leg) error {
	if err := connected(l); err != nil {
		return err
	}
	c := l.call
	switch {
	case c.consult != nil || c.conference:
		return gateway.Errorf(gateway.CodeNotAllowed, "not allowed during a consult or conference")
	case c.liveParties() == 0:
		return gateway.Errorf(gateway.CodeNotAllowed, "no customer on the call")
	}
	return nil
}

// transfer hands the call to a target without consulting: the target
// rings (an agent), the call waits (a queue) or the number is reached,
// and the transferring agent leaves at once, into wrap-up.
func (cc *CallCenter) transfer(l *leg, t gateway.Target, port *Port, af *after) error {
	if err := transferable(l); err != nil {
		return err
	}
	if err := cc.checkTarget(l.agent, t); err != nil {
		return err
	}
	c := l.call
	switch t.Kind {
	case gateway.TargetAgent:
		cc.offer(c, cc.agents[t.ID], roleHandler, "inbound", false, af)
	case gateway.TargetQueue:
		cc.enqueue(c, t.ID, false, af)
	case gateway.TargetNumber:
		cc.addNumber(c, t.ID, port, af)
	}
	cc.stats.CallsTransfered++
	cc.log.Info("callcenter: blind transfer", "call", c.id, "from", l.agent.id, "to", t.ID)
	cc.endLeg(l, CauseTransferred, af)
	return nil
}

// consult puts the customer on hold and rings another agent; the outcome
// is call.consult_started (answered) or call.consult_ended.
func (cc *CallCenter) consult(l *leg, t gateway.Target, af *after) error {
	if err := transferable(l); err != nil {
		return err
	}
	if t.Kind != gateway.TargetAgent {
		return gateway.Errorf(gateway.CodeUnsupported, "consult reaches an agent only")
	}
	if err := cc.checkTarget(l.agent, t); err != nil {
		return err
	}
	c := l.call
	if l.held {
		// the agent talks to the consulted agent: take the phone off hold
		l.held = false
		cc.renegotiate(l, dirSendRecv, nil)
	}
	cl := cc.offer(c, cc.agents[t.ID], roleConsult, "inbound", false, af)
	if cl.state == legRinging {
		c.consult, c.consultBy = cl, l
	}
	cc.applyHold(c)
	return nil
}

// consulting is the answered consult l started.
func consulting(l *leg) (*leg, error) {
	c := l.call
	if c.consultBy != l || c.consult == nil {
		return nil, gateway.Errorf(gateway.CodeNotAllowed, "no consult under way")
	}
	if c.consult.state != legConnected {
		return nil, gateway.Errorf(gateway.CodeNotAllowed, "the consulted agent has not answered")
	}
	return c.consult, nil
}

// completeTransfer leaves the customer with the consulted agent.
func (cc *CallCenter) completeTransfer(l *leg, af *after) error {
	cons, err := consulting(l)
	if err != nil {
		return err
	}
	c := l.call
	c.consult, c.consultBy = nil, nil
	cons.role = roleHandler
	cc.stats.CallsTransfered++
	cc.endLeg(l, CauseTransferred, af)
	cc.callEvent(cons, gateway.EvCallTransferred, "")
	cc.applyHold(c)
	return nil
}

// cancelConsult drops the consult leg and takes the customer off hold.
func (cc *CallCenter) cancelConsult(l *leg, af *after) error {
	c := l.call
	if c.consultBy != l || c.consult == nil {
		return gateway.Errorf(gateway.CodeNotAllowed, "no consult under way")
	}
	cc.endLeg(c.consult, CauseConsultEnded, af)
	return nil
}

// conference joins the customer, the agent and the consulted agent.
func (cc *CallCenter) conference(l *leg, af *after) error {
	cons, err := consulting(l)
	if err != nil {
		return err
	}
	c := l.call
	c.consult, c.consultBy = nil, nil
	c.conference = true
	cons.role = roleHandler
	cc.applyHold(c)
	for _, m := range c.legs {
		if m.state == legConnected {
			cc.callEvent(m, gateway.EvConferenced, "")
		}
	}
	return nil
}

// dial places an outgoing call for a: its phone rings first; once it
// answers, the target is reached (connectTarget).
func (cc *CallCenter) dial(a *agent, t gateway.Target, port *Port, af *after) error {
	switch {
	case len(a.legs) > 0:
		return gateway.Errorf(gateway.CodeNotAllowed, "already on a call")
	case cc.binding(a) == nil:
		return gateway.Errorf(gateway.CodeNotAllowed, "your phone is not registered")
	}
	if err := cc.checkTarget(a, t); err != nil {
		return err
	}
	c := cc.newCall("outbound", a.id, t.ID, nil, cc.media.NewBridge())
	c.target = &t
	if t.Kind == gateway.TargetNumber && *port != nil {
		c.numberPort, *port = *port, nil
	}
	cc.log.Info("callcenter: dial", "call", c.id, "agent", a.id, "target", t.ID)
	cc.offer(c, a, roleDialer, "outbound", false, af)
	return nil
}

// connectTarget reaches the target of c once the dialling agent answered.
func (cc *CallCenter) connectTarget(c *call, dialer *leg, af *after) {
	t := c.target
	if t == nil {
		return
	}
	c.target = nil
	switch t.Kind {
	case gateway.TargetAgent:
		b := cc.agents[t.ID]
		if !cc.available(b) {
			cc.endCall(c, CauseNoAnswer, af)
			return
		}
		cc.offer(c, b, roleHandler, "inbound", false, af)
	case gateway.TargetQueue:
		cc.enqueue(c, t.ID, false, af)
	case gateway.TargetNumber:
		port := c.numberPort
		c.numberPort = nil
		cc.addNumber(c, t.ID, &port, af)
	}
}

// addNumber joins a number to c: a simulated party that answers at once,
// or a call over the trunk when TrunkOutbound is set.
func (cc *CallCenter) addNumber(c *call, number string, port *Port, af *after) {
	if cc.cfg.TrunkOutbound != "" && cc.trunkEP != nil {
		cc.dialTrunk(c, number, af)
		return
	}
	if *port == nil {
		cc.endCall(c, CauseFailed, af)
		return
	}
	cc.addParty(c, &party{kind: partyNumber, name: number, port: *port, connected: true})
	*port = nil
	cc.applyHold(c)
	cc.tellDialer(c)
}
