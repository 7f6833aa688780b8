package callcenter

import (
	"context"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// routeAgentSIP installs the handlers for requests from agents' phones.
func (cc *CallCenter) routeAgentSIP() {
	ep := cc.agentEP
	ep.handle(sip.REGISTER, cc.register)
	ep.handle(sip.INVITE, cc.phoneInvite)
	ep.handle(sip.ACK, func(*sip.Request, sip.ServerTransaction) {}) // ACKs of our 200s to re-INVITEs
	ep.handle(sip.BYE, cc.phoneBye)
	ep.handle(sip.CANCEL, func(req *sip.Request, tx sip.ServerTransaction) {
		reply(tx, req, 481, "Call/Transaction Does Not Exist")
	})
	ep.handle(sip.OPTIONS, func(req *sip.Request, tx sip.ServerTransaction) {
		reply(tx, req, 200, "OK", sip.NewHeader("Allow", allowMethods), sip.NewHeader("Accept", "application/sdp"),
			sip.NewHeader("Supported", "path"))
	})
	ep.handle(sip.INFO, cc.phoneInfo)
}

// phoneLeg is the leg whose dialog req belongs to, or nil.
func (cc *CallCenter) phoneLeg(req *sip.Request) *leg {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	l := cc.legsBySIP[req.CallID().Value()]
	if l == nil || l.dlg == nil {
		return nil
	}
	return l
}

// phoneInvite answers a re-INVITE from an agent's phone (a network change,
// the phone's own hold) with the leg media's answer. Calls are placed with
// the dial command, not by INVITE.
func (cc *CallCenter) phoneInvite(req *sip.Request, tx sip.ServerTransaction) {
	if toTag(req) == "" {
		reply(tx, req, 403, "Forbidden (dial from the agent bar)")
		return
	}
	l := cc.phoneLeg(req)
	if l == nil {
		reply(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	cc.mu.Lock()
	media, dlg := l.media, l.dlg
	cc.mu.Unlock()
	if err := dlg.s.ReadRequest(req, tx); err != nil {
		reply(tx, req, 500, "Server Internal Error")
		return
	}
	var body []byte
	var err error
	ctx, cancel := context.WithTimeout(cc.ctx, opTimeout)
	defer cancel()
	if offer := sdpBody(req); len(offer) > 0 {
		body, err = media.Answer(ctx, offer)
	} else {
		body, err = media.Offer(ctx, dirSendRecv)
	}
	if err != nil {
		reply(tx, req, 488, "Not Acceptable Here")
		return
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", body)
	res.AppendHeader(cc.agentEP.contact(strings.ToUpper(req.Transport())))
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	tx.Respond(res)
}

// phoneBye takes a BYE from an agent's phone: the agent hung up.
func (cc *CallCenter) phoneBye(req *sip.Request, tx sip.ServerTransaction) {
	l := cc.phoneLeg(req)
	if l == nil {
		reply(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	l.dlg.readBye(req, tx)
	cc.update(func(af *after) {
		l.byPhone = true
		cc.endLeg(l, CauseAgentHangup, af)
		cc.dispatch(af)
	})
}

// phoneInfo takes DTMF in SIP INFO from an agent's phone.
func (cc *CallCenter) phoneInfo(req *sip.Request, tx sip.ServerTransaction) {
	l := cc.phoneLeg(req)
	if l == nil {
		reply(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	reply(tx, req, 200, "OK")
	if d, ok := infoDigit(req); ok {
		cc.phoneDTMF(l, d)
	}
}

// infoDigit reads the digit of an application/dtmf-relay or
// application/dtmf INFO body.
func infoDigit(req *sip.Request) (rune, bool) {
	ct := ""
	if h := req.GetHeader("Content-Type"); h != nil {
		ct = strings.ToLower(strings.TrimSpace(h.Value()))
	}
	body := string(req.Body())
	var v string
	switch {
	case strings.HasPrefix(ct, "application/dtmf-relay"):
		for _, line := range strings.Split(body, "\n") {
			if k, x, ok := strings.Cut(line, "="); ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				v = strings.TrimSpace(x)
				break
			}
		}
	case strings.HasPrefix(ct, "application/dtmf"):
		v = strings.TrimSpace(body)
	}
	v = strings.ToUpper(v)
	if len(v) != 1 || !isDTMF(v) {
		return 0, false
	}
	return rune(v[0]), true
}
