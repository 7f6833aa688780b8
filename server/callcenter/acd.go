package callcenter

import (
	"context"
	"net/url"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
	"github.com/emiago/sipgo/sip"
)

// enqueue puts c in queue q: at the tail, or at the head for a call that
// comes back after a refused offer. The call keeps its first arrival time.
func (cc *CallCenter) enqueue(c *call, q string, head bool, af *after) {
	qu := cc.queues[q]
	if qu == nil || c.ended {
		return
	}
	cc.dequeue(c)
	c.queue, c.waiting = q, true
	if c.enqueued.IsZero() {
		c.enqueued = cc.now()
	}
	if head {
		qu.waiting = append([]*call{c}, qu.waiting...)
	} else {
		qu.waiting = append(qu.waiting, c)
	}
	cc.applyHold(c)
	cc.dispatch(af)
}

// dequeue takes c out of its queue.
func (cc *CallCenter) dequeue(c *call) {
	if !c.waiting {
		return
	}
	c.waiting = false
	if qu := cc.queues[c.queue]; qu != nil {
		qu.waiting = remove(qu.waiting, c)
	}
}

// dispatch offers waiting calls to agents until no waiting call has an
// eligible agent. Among queue heads the longest-waiting call goes first;
// each goes to the longest-idle ready agent of its queue.
func (cc *CallCenter) dispatch(af *after) {
	if cc.closed {
		return
	}
	for {
		var best *call
		var to *agent
		for _, id := range cc.queueOrder {
			q := cc.queues[id]
			if len(q.waiting) == 0 {
				continue
			}
			c := q.waiting[0]
			if best != nil && !c.enqueued.Before(best.enqueued) {
				continue
			}
			if a := cc.pickAgent(q.id, c); a != nil {
				best, to = c, a
			}
		}
		if best == nil {
			return
		}
		cc.dequeue(best)
		cc.offer(best, to, roleHandler, "inbound", true, af)
	}
}

// pickAgent is the longest-idle agent of queue q who can take c now.
func (cc *CallCenter) pickAgent(q string, c *call) *agent {
	var best *agent
	for _, id := range cc.agentOrder {
		a := cc.agents[id]
		if !cc.available(a) || !a.joinedQueue(q) || onCall(c, a) {
			continue
		}
		if best == nil || a.idleSince.Before(best.idleSince) {
			best = a
		}
	}
	return best
}

// available tells whether a can be offered a call: signed in, ready, idle,
// with a registered phone.
func (cc *CallCenter) available(a *agent) bool {
	return a.sess != nil && a.state == gateway.StateReady && len(a.legs) == 0 && cc.binding(a) != nil
}

func onCall(c *call, a *agent) bool {
	for _, l := range c.legs {
		if l.agent == a {
			return true
		}
	}
	return false
}

// offer rings a's phone for c: the agent becomes busy, the phone gets an
// INVITE, and the agent hears of the call once the phone rings. The
// outcome comes back in ringDone.
func (cc *CallCenter) offer(c *call, a *agent, role legRole, dir string, fromQueue bool, af *after) *leg {
	now := cc.now()
	l := &leg{
		call: c, agent: a, role: role, dir: dir, fromQueue: fromQueue,
		sipID: randomID(12) + "@agentbar", state: legRinging, since: now, offered: now,
		prev: a.save(), ops: newSerial(cc.spawn),
	}
	c.legs = append(c.legs, l)
	a.legs = append(a.legs, l)
	cc.legsBySIP[l.sipID] = l
	cc.moveState(a, gateway.StateBusy, "") // told in announce

	b := cc.binding(a)
	if b == nil {
		cc.endLeg(l, "failed", af) // no phone: callers check first
		return l
	}
	spec := cc.legInvite(l, b)
	ctx, cancel := context.WithCancel(cc.ctx)
	l.cancelRing = cancel
	l.ringTimer = time.AfterFunc(cc.cfg.RingTimeout, func() {
		cc.update(func(af *after) {
			if l.state == legRinging {
				cc.endLeg(l, ReasonMissed, af)
				cc.dispatch(af)
			}
		})
	})
	af.do(func() { cc.spawn(func() { cc.ring(ctx, l, spec) }) })
	cc.applyHold(c)
	return l
}

// legInvite is the INVITE of l to the phone of binding b, with the call
// data in X-Agentbar headers for the bar's screen pop.
func (cc *CallCenter) legInvite(l *leg, b *binding) inviteSpec {
	c, a := l.call, l.agent
	caller, callerName := c.caller, c.caller
	if l.role == roleDialer {
		caller, callerName = c.callee, c.callee
	}
	hdrs := []sip.Header{
		sip.NewHeader("X-Agentbar-Call-ID", c.id),
		sip.NewHeader("X-Agentbar-Caller", c.caller),
		sip.NewHeader("X-Agentbar-Direction", l.dir),
	}
	if c.queue != "" {
		hdrs = append(hdrs, sip.NewHeader("X-Agentbar-Queue", c.queue))
	}
	if len(c.data) > 0 {
		v := url.Values{}
		for k, x := range c.data {
			v.Set(k, x)
		}
		hdrs = append(hdrs, sip.NewHeader("X-Agentbar-Data", v.Encode()))
	}
	if l.role == roleDialer {
		hdrs = append(hdrs, sip.NewHeader("Call-Info", "<sip:"+cc.cfg.Domain+">;answer-after=0"))
	}
	dest, transport := b.destination()
	return inviteSpec{
		ruri:      *b.contact.Clone(),
		fromName:  callerName,
		from:      sip.Uri{Scheme: "sip", User: sipUser(caller), Host: cc.cfg.Domain},
		to:        sip.Uri{Scheme: "sip", User: a.id, Host: cc.cfg.Domain},
		routes:    b.path,
		dest:      dest,
		transport: transport,
		headers:   hdrs,
	}
}

// sipUser makes s usable as the user part of a SIP URI.
func sipUser(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9':
			b = append(b, ch)
		case ch == '-' || ch == '_' || ch == '.' || ch == '+' || ch == '*':
			b = append(b, ch)
		}
	}
	if len(b) == 0 {
		return "anonymous"
	}
	return string(b)
}
