package callcenter

import (
	"context"
	"net"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// routeTrunkSIP installs the trunk's request handlers.
func (cc *CallCenter) routeTrunkSIP() {
	ep := cc.trunkEP
	ep.handle(sip.INVITE, cc.trunkInvite)
	ep.handle(sip.ACK, cc.trunkAck)
	ep.handle(sip.BYE, cc.trunkBye)
	ep.handle(sip.CANCEL, func(req *sip.Request, tx sip.ServerTransaction) {
		reply(tx, req, 481, "Call/Transaction Does Not Exist")
	})
	ep.handle(sip.OPTIONS, func(req *sip.Request, tx sip.ServerTransaction) {
		reply(tx, req, 200, "OK", sip.NewHeader("Allow", allowMethods), sip.NewHeader("Accept", "application/sdp"))
	})
	ep.handle(sip.INFO, func(req *sip.Request, tx sip.ServerTransaction) {
		if cc.trunkParty(req) == nil {
			reply(tx, req, 481, "Call/Transaction Does Not Exist")
			return
		}
		reply(tx, req, 200, "OK")
	})
}

// trunkParty is the party whose dialog req belongs to, or nil.
func (cc *CallCenter) trunkParty(req *sip.Request) *party {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.trunkBySIP[req.CallID().Value()]
}

// trunkInvite takes a customer's call to a queue: 180 at once, then the
// call waits in the queue; the INVITE is answered when an agent answers,
// or refused if the call ends first. A CANCEL abandons it.
func (cc *CallCenter) trunkInvite(req *sip.Request, tx sip.ServerTransaction) {
	if toTag(req) != "" {
		cc.trunkReinvite(req, tx)
		return
	}
	queue := req.Recipient.User
	cc.mu.Lock()
	closed, known := cc.closed, cc.queues[queue] != nil
	cc.mu.Unlock()
	switch {
	case closed:
		reply(tx, req, 503, "Service Unavailable")
		return
	case !known:
		reply(tx, req, 404, "Not Found")
		return
	}
	ds, err := cc.trunkEP.dialog.ReadInvite(req, tx)
	if err != nil {
		reply(tx, req, 400, "Bad Request")
		return
	}
	d := &inDialog{ep: cc.trunkEP, s: ds, callID: req.CallID().Value(), transport: strings.ToUpper(req.Transport())}
	media, err := cc.media.NewTrunkLeg()
	if err != nil {
		cc.log.Error("callcenter: trunk media", "err", err)
		d.respond(503, "Service Unavailable", nil)
		return
	}
	offer := sdpBody(req)
	var answer []byte
	if len(offer) > 0 {
		if answer, err = media.Answer(offer); err != nil {
			media.Close()
			d.respond(488, "Not Acceptable Here", nil)
			return
		}
	} else {
		answer = media.Offer(dirSendRecv)
	}
	if err := d.respond(180, "Ringing", nil); err != nil {
		media.Close()
		return
	}
	caller := callerOf(req)
	bridge := cc.media.NewBridge()
	p := &party{kind: partyTrunkIn, name: caller, port: media, trunk: media, in: d, sipID: d.callID, offerless: len(offer) == 0, signal: make(chan struct{})}
	ok := false
	cc.update(func(af *after) {
		if cc.closed {
			return
		}
		c := cc.newCall("inbound", caller, queue, map[string]string{"channel": "sip"}, bridge)
		cc.addParty(c, p)
		cc.stats.CallsReceived++
		cc.log.Info("callcenter: trunk call", "call", c.id, "queue", queue)
		cc.enqueue(c, queue, false, af)
		ok = true
	})
	if !ok {
		media.Close()
		bridge.Close()
		d.respond(503, "Service Unavailable", nil)
		return
	}
	select {
	case <-p.signal:
	case <-d.done():
		cc.update(func(af *after) {
			cc.partyGone(p, CauseCustomerHangup, af)
			cc.dispatch(af)
		})
		return
	}
	cc.mu.Lock()
	answerIt := p.connected && !p.gone
	cc.mu.Unlock()
	if !answerIt {
		d.respond(480, "Temporarily Unavailable", nil)
		return
	}
	// An RFC 2543 peer's ACK has its INVITE's Via and no branch, so it
	// matches the INVITE's transaction (RFC 3261 §17.2.3), where sipgo
	// keeps it instead of passing it to trunkAck.
	cc.spawn(func() {
		select {
		case ack := <-tx.Acks():
			cc.partyAck(p, ack, tx)
		case <-tx.Done():
		}
	})
	if err := d.respond(200, "OK", answer); err != nil {
		cc.log.Warn("callcenter: customer's call not confirmed", "err", err)
		cc.update(func(af *after) { cc.partyGone(p, CauseCustomerHangup, af) })
	}
}

// callerOf is who a trunk call is from: the From user, or its display name.
func callerOf(req *sip.Request) string {
	f := req.From()
	if u := sipUser(f.Address.User); f.Address.User != "" && u != "anonymous" {
		return u
	}
	if f.DisplayName != "" {
		return sipUser(f.DisplayName)
	}
	return "anonymous"
}

// trunkReinvite answers a re-INVITE from a trunk party (hold, resume, a
// new address) with its media's answer.
func (cc *CallCenter) trunkReinvite(req *sip.Request, tx sip.ServerTransaction) {
	p := cc.trunkParty(req)
	if p == nil || p.trunk == nil || cc.partyLeft(p) {
		reply(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if p.in != nil {
		if err := p.in.s.ReadRequest(req, tx); err != nil {
			reply(tx, req, 500, "Server Internal Error")
			return
		}
	}
	var body []byte
	if offer := sdpBody(req); len(offer) > 0 {
		var err error
		if body, err = p.trunk.Answer(offer); err != nil {
			reply(tx, req, 488, "Not Acceptable Here")
			return
		}
	} else {
		body = p.trunk.Offer(dirSendRecv)
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", body)
	res.AppendHeader(cc.trunkEP.contact(strings.ToUpper(req.Transport())))
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	tx.Respond(res)
}

// partyLeft tells whether p has left its call (a party we hang up stays
// known to the trunk until our BYE is done, for its ACK).
func (cc *CallCenter) partyLeft(p *party) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return p.gone
}

// trunkAck takes the ACK of a 2xx to a trunk party's INVITE.
func (cc *CallCenter) trunkAck(req *sip.Request, tx sip.ServerTransaction) {
	if p := cc.trunkParty(req); p != nil && p.in != nil {
		cc.partyAck(p, req, tx)
	}
}

// partyAck confirms a customer's dialog (and takes the SDP answer of an
// offerless INVITE).
func (cc *CallCenter) partyAck(p *party, req *sip.Request, tx sip.ServerTransaction) {
	if p.offerless {
		if sdp := sdpBody(req); len(sdp) > 0 {
			if err := p.trunk.SetAnswer(sdp); err != nil {
				cc.log.Warn("callcenter: customer's SDP answer refused", "err", err)
			}
		}
	}
	p.in.s.ReadAck(req, tx)
}

// trunkBye takes a BYE from a trunk party: the customer (or number) hung up.
func (cc *CallCenter) trunkBye(req *sip.Request, tx sip.ServerTransaction) {
	p := cc.trunkParty(req)
	if p == nil {
		reply(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	cause := CauseCustomerHangup
	switch {
	case p.in != nil:
		if err := p.in.s.ReadBye(req, tx); err != nil {
			reply(tx, req, 200, "OK")
		}
	case p.out != nil:
		p.out.readBye(req, tx)
		cause = CauseRemoteHangup
	default:
		reply(tx, req, 200, "OK")
	}
	cc.update(func(af *after) {
		cc.partyGone(p, cause, af)
		cc.dispatch(af)
	})
}

// dialTrunk reaches a number over the trunk (sip:<number>@TrunkOutbound).
func (cc *CallCenter) dialTrunk(c *call, number string, af *after) {
	ctx, cancel := context.WithCancel(cc.ctx)
	p := &party{kind: partyTrunkOut, name: number, sipID: randomID(12) + "@agentbar", cancel: cancel}
	cc.addParty(c, p)
	af.do(func() { cc.spawn(func() { cc.callNumber(ctx, p, number) }) })
}

// callNumber INVITEs a number over the trunk and joins it to its call once
// it answers.
func (cc *CallCenter) callNumber(ctx context.Context, p *party, number string) {
	fail := func() {
		cc.update(func(af *after) { cc.partyGone(p, CauseNoAnswer, af) })
	}
	media, err := cc.media.NewTrunkLeg()
	if err != nil {
		fail()
		return
	}
	host, port, _ := net.SplitHostPort(cc.cfg.TrunkOutbound)
	to := sip.Uri{Scheme: "sip", User: number, Host: host}
	if n, err := parsePort(port); err == nil {
		to.Port = n
	}
	from := sip.Uri{Scheme: "sip", User: sipUser(p.call.caller), Host: cc.cfg.Domain}
	dlg, err := cc.trunkEP.invite(ctx, p.sipID, inviteSpec{
		ruri: to, fromName: p.call.caller, from: from, to: to,
		dest: cc.cfg.TrunkOutbound, transport: "UDP", sdp: media.Offer(dirSendRecv),
	})
	if err != nil {
		media.Close()
		fail()
		return
	}
	cc.mu.Lock()
	p.out = dlg
	cc.mu.Unlock()
	answer, _, err := dlg.waitAnswer(ctx)
	if err == nil {
		err = media.SetAnswer(answer)
	}
	if err != nil {
		media.Close()
		fail()
		return
	}
	cc.update(func(af *after) {
		if p.gone {
			af.do(func() { media.Close(); cc.spawn(dlg.bye) })
			return
		}
		p.port, p.trunk, p.connected = media, media, true
		p.call.bridge.Add(media)
		p.inBridge = true
		cc.applyHold(p.call)
		cc.tellDialer(p.call)
	})
}
