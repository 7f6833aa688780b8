package callcenter

import (
	"context"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// opTimeout bounds one SIP operation on a connected leg (a re-INVITE).
const opTimeout = 10 * time.Second

// ring makes l's media, INVITEs the phone and waits for its answer; ctx
// ends when the offer is withdrawn (reject, ring timeout, caller gone).
func (cc *CallCenter) ring(ctx context.Context, l *leg, spec inviteSpec) {
	media, err := cc.media.NewAgentLeg(func(d rune) { cc.phoneDTMF(l, d) })
	if err != nil {
		cc.log.Error("callcenter: agent media", "agent", l.agent.id, "err", err)
		cc.update(func(af *after) { cc.ringDone(l, 0, err, af) })
		return
	}
	offer, err := media.Offer(ctx, dirSendRecv)
	if err != nil {
		media.Close()
		cc.log.Error("callcenter: agent media offer", "agent", l.agent.id, "err", err)
		cc.update(func(af *after) { cc.ringDone(l, 0, err, af) })
		return
	}
	cc.mu.Lock()
	live := l.state == legRinging
	if live {
		l.media = media
	}
	cc.mu.Unlock()
	if !live {
		media.Close()
		return
	}
	if ctx.Err() != nil {
		return // withdrawn while the media was made; endLeg closes it
	}
	spec.sdp = offer
	sent := time.Now()
	dlg, err := cc.agentEP.invite(ctx, l.sipID, spec)
	if err != nil {
		cc.log.Warn("callcenter: cannot ring agent", "agent", l.agent.id, "err", err)
		cc.update(func(af *after) { cc.ringDone(l, 0, err, af) })
		return
	}
	cc.mu.Lock()
	l.dlg = dlg
	cc.mu.Unlock()
	rang, early := false, false
	answer, code, err := dlg.waitAnswerWith(ctx, func(code int, sdp []byte) {
		if !rang && (code == 180 || code == 183) {
			rang = true
			d := time.Since(sent)
			cc.update(func(*after) {
				l.call.rang = append(l.call.rang, d)
				if l.state == legRinging {
					cc.announce(l)
				}
			})
		}
		if len(sdp) > 0 && !early {
			// An early answer (a 183 with SDP): the transport (ICE, DTLS)
			// is set up while the phone rings, so that audio flows as
			// soon as it answers. Nothing is sent before the answer: the
			// leg joins the bridge only then.
			early = true
			if err := media.SetAnswer(sdp); err != nil {
				cc.log.Warn("callcenter: phone's early SDP answer refused", "agent", l.agent.id, "err", err)
			}
		}
	})
	if err == nil {
		if err = media.SetAnswer(answer); err != nil {
			cc.log.Warn("callcenter: phone's SDP answer refused", "agent", l.agent.id, "err", err)
			dlg.bye()
			code = 488
		}
	}
	cc.update(func(af *after) { cc.ringDone(l, code, err, af) })
}

// ringDone takes the outcome of ringing l.
func (cc *CallCenter) ringDone(l *leg, code int, err error, af *after) {
	if l.state != legRinging {
		// withdrawn meanwhile; a phone that answered anyway is hung up
		if err == nil && l.dlg != nil {
			dlg := l.dlg
			l.ops.post(dlg.bye)
		}
		return
	}
	if err != nil {
		cause := ReasonMissed
		switch code {
		case 486, 600, 603:
			cause = ReasonRejected
		case 0, 488:
			cause = "failed"
		}
		cc.log.Info("callcenter: offer not answered", "agent", l.agent.id, "call", l.call.id, "code", code, "cause", cause)
		cc.endLeg(l, cause, af)
		cc.dispatch(af)
		return
	}
	cc.connectLeg(l, af)
	cc.dispatch(af)
}

// connectLeg puts an answered leg in its call's bridge and carries on
// according to the leg's role.
func (cc *CallCenter) connectLeg(l *leg, af *after) {
	c := l.call
	l.state = legConnected
	l.since = cc.now()
	if l.ringTimer != nil {
		l.ringTimer.Stop()
	}
	c.bridge.Add(l.media)
	if l.role == roleDialer {
		l.agent.day.outbound++
	} else {
		l.agent.day.answered++
	}
	cc.log.Info("callcenter: agent answered", "agent", l.agent.id, "call", c.id)
	switch l.role {
	case roleDialer:
		cc.connectTarget(c, l, af)
	case roleConsult:
		cc.callEvent(l, gateway.EvCallAnswered, "")
		if by := c.consultBy; by != nil {
			cc.callEvent(by, gateway.EvConsultStarted, "")
		}
	default:
		cc.callEvent(l, gateway.EvCallAnswered, "")
		if !c.answered && c.hasCustomer() {
			cc.stats.CallsAnswered++
		}
		c.answered = true
		cc.answerParties(c)
		cc.tellDialer(c)
	}
	cc.applyHold(c)
}

// tellDialer tells the agent who placed c that the far end answered.
func (cc *CallCenter) tellDialer(c *call) {
	if c.dialerTold {
		return
	}
	for _, d := range c.legs {
		if d.role == roleDialer && d.state == legConnected {
			c.dialerTold = true
			cc.callEvent(d, gateway.EvCallAnswered, "")
		}
	}
}

// answerParties lets trunk customers' INVITEs be answered.
func (cc *CallCenter) answerParties(c *call) {
	for _, p := range c.parties {
		if p.kind == partyTrunkIn && !p.gone && !p.connected {
			p.connected = true
			p.notify()
		}
	}
}

// sendDTMF records digits on c and plays them to its external parties.
func (cc *CallCenter) sendDTMF(c *call, digits string, af *after) {
	for _, d := range digits {
		c.dtmf = append(c.dtmf, d)
	}
	for _, p := range c.parties {
		if s, ok := p.port.(DTMFSender); ok && !p.gone && p.port != nil {
			af.do(func() {
				for _, d := range digits {
					if err := s.SendDTMF(d); err != nil {
						cc.log.Debug("callcenter: DTMF not played", "err", err)
						return
					}
				}
			})
		}
	}
}

// phoneDTMF takes a digit the agent's phone sent (in media or SIP INFO).
func (cc *CallCenter) phoneDTMF(l *leg, d rune) {
	if !isDTMF(string(d)) {
		return
	}
	cc.update(func(af *after) {
		if l.state != legConnected {
			return
		}
		cc.sendDTMF(l.call, string(d), af)
		cc.emit(l.agent, gateway.Event{Type: gateway.EvDTMF, Call: cc.callInfo(l), Digits: string(d)})
	})
}

// isDTMF tells whether s is a non-empty string of DTMF digits.
func isDTMF(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9', r == '*', r == '#', r >= 'A' && r <= 'D':
		default:
			return false
		}
	}
	return true
}
