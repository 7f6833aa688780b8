package callcenter

// checkEnd ends c when it has nobody left to talk to: its customers have
// hung up, or fewer than two parties remain and none is on the way (a
// queue, a dial not yet connected).
func (cc *CallCenter) checkEnd(c *call, cause string, af *after) {
	if c.ended {
		return
	}
	live, legs := c.liveParties(), len(c.legs)
	var end bool
	switch {
	case len(c.parties) > 0 && live == 0:
		end = true
	case c.waiting:
		end = live == 0 && c.connectedLegs() == 0
	case c.target != nil:
		end = legs == 0
	default:
		end = live+legs < 2
	}
	if end {
		cc.endCall(c, cause, af)
	}
}

// endCall ends c for everyone still on it.
func (cc *CallCenter) endCall(c *call, cause string, af *after) {
	if c.ended {
		return
	}
	c.ended, c.cause = true, cause
	cc.dequeue(c)
	for _, l := range append([]*leg(nil), c.legs...) {
		lc := cause
		if l.state == legRinging {
			lc = CauseAbandoned
		}
		cc.endLeg(l, lc, af)
	}
	for _, p := range c.parties {
		cc.dropParty(p, af)
	}
	if c.numberPort != nil {
		port := c.numberPort
		c.numberPort = nil
		af.do(func() { port.Close() })
	}
	c.bridge.Close()
	delete(cc.calls, c.id)
	cc.stats.CallsEnded++
	cc.history.add(c.id, cc.callStats(c))
	cc.log.Info("callcenter: call ended", "call", c.id, "cause", cause)
}

// dropParty hangs up an external party from our side.
func (cc *CallCenter) dropParty(p *party, af *after) {
	if p.gone {
		return
	}
	cc.leave(p)
	switch p.kind {
	case partyTrunkIn:
		if p.signaled && p.connected {
			// The BYE waits for the ACK of our 200 (RFC 3261 §15), which
			// may still be on its way: the trunk forgets the dialog only
			// once the BYE is done, so that trunkAck still finds it.
			d := p.in
			af.do(func() {
				cc.spawn(func() {
					d.bye()
					cc.update(func(*after) { cc.forget(p) })
				})
			})
			return
		}
		p.notify() // its INVITE handler refuses the call
	case partyTrunkOut:
		if p.cancel != nil {
			p.cancel()
		}
		if p.connected && p.out != nil {
			d := p.out
			af.do(func() { cc.spawn(d.bye) })
		}
	}
	cc.forget(p)
}

// partyGone takes an external party that left by itself (BYE, CANCEL, a
// simulated customer hanging up, a failed dial).
func (cc *CallCenter) partyGone(p *party, cause string, af *after) {
	if p.gone {
		return
	}
	cc.leave(p)
	cc.forget(p)
	p.notify()
	c := p.call
	if (p.kind == partyCustomer || p.kind == partyTrunkIn) && !c.answered && !c.ended {
		cc.stats.CallsAbandoned++
	}
	cc.applyHold(c)
	cc.checkEnd(c, cause, af)
}

// forget takes p out of the trunk's dialogs: nothing more it sends is
// routed to it.
func (cc *CallCenter) forget(p *party) {
	if p.sipID != "" && cc.trunkBySIP[p.sipID] == p {
		delete(cc.trunkBySIP, p.sipID)
	}
}

// leave takes p out of its call's bridge, keeping its last stats. The
// trunk may still route its dialog's requests to it until forget.
func (cc *CallCenter) leave(p *party) {
	p.gone = true
	if p.inBridge {
		p.call.bridge.Remove(p.port)
		p.inBridge = false
	}
	if p.port != nil {
		p.final = p.port.Stats()
		port := p.port
		// closed outside the lock by whoever runs next: the port's last
		// frames do not matter once it left the bridge
		cc.spawn(func() { port.Close() })
	}
}

// applyHold makes the bridge match the call's state. External parties
// hear hold while a consult is under way, while an agent holds, and while
// they wait alone; an agent leg hears hold while another agent holds.
func (cc *CallCenter) applyHold(c *call) {
	if c.ended {
		return
	}
	holder := false
	for _, l := range c.legs {
		if l.state == legConnected && l.held {
			holder = true
		}
	}
	alone := c.connectedLegs() == 0 && c.liveParties() < 2
	for _, p := range c.parties {
		if p.gone || !p.inBridge {
			continue
		}
		want := c.consult != nil || holder || alone
		if want != p.held {
			p.held = want
			c.bridge.Hold(p.port, want)
		}
	}
	for _, l := range c.legs {
		if l.state != legConnected {
			continue
		}
		want := false
		if c.consult == nil {
			for _, m := range c.legs {
				if m != l && m.state == legConnected && m.held {
					want = true
				}
			}
		}
		if want != l.bridgeHeld {
			l.bridgeHeld = want
			c.bridge.Hold(l.media, want)
		}
	}
}
