package callcenter

import (
	"context"

	"github.com/agentbar/agentbar/proxy/gateway"
	"github.com/emiago/sipgo/sip"
)

// reconnectMedia rings the agent's current registration again for l's
// connected call (auto-answer, same call data) so a phone that lost its
// media (a reloaded page) gets the call's audio back. The call and the
// agent's state do not change; mediaReconnected swaps the dialogs.
func (cc *CallCenter) reconnectMedia(l *leg, af *after) error {
	if l.state != legConnected {
		return gateway.Errorf(gateway.CodeNoCall, "no connected call")
	}
	if l.reconnect {
		return gateway.Errorf(gateway.CodeNotAllowed, "a media reconnection is already under way")
	}
	b := cc.binding(l.agent)
	if b == nil {
		return gateway.Errorf(gateway.CodeNotAllowed, "the phone is not registered")
	}
	spec := cc.legInvite(l, b)
	if l.role != roleDialer { // legInvite adds it for the dialler only
		spec.headers = append(spec.headers, sip.NewHeader("Call-Info", "<sip:"+cc.cfg.Domain+">;answer-after=0"))
	}
	dir := dirSendRecv
	if l.held {
		dir = dirSendOnly
	}
	l.reconnect = true
	sipID := randomID(12) + "@agentbar"
	af.do(func() { cc.spawn(func() { cc.reinviteNew(l, sipID, dir, spec) }) })
	return nil
}

// reinviteNew makes new media for l, INVITEs the phone in a new dialog and
// hands the outcome to mediaReconnected.
func (cc *CallCenter) reinviteNew(l *leg, sipID, dir string, spec inviteSpec) {
	ctx, cancel := context.WithTimeout(cc.ctx, cc.cfg.RingTimeout)
	defer cancel()
	media, err := cc.media.NewAgentLeg(func(d rune) { cc.phoneDTMF(l, d) })
	if err != nil {
		cc.log.Error("callcenter: agent media", "agent", l.agent.id, "err", err)
		cc.update(func(*after) { l.reconnect = false })
		return
	}
	var dlg *outDialog
	spec.sdp, err = media.Offer(ctx, dir)
	if err == nil {
		dlg, err = cc.agentEP.invite(ctx, sipID, spec)
	}
	if err == nil {
		var answer []byte
		if answer, _, err = dlg.waitAnswer(ctx); err == nil {
			if err = media.SetAnswer(answer); err != nil {
				dlg.bye()
			}
		}
	}
	cc.update(func(af *after) { cc.mediaReconnected(l, sipID, media, dlg, err, af) })
}

// mediaReconnected takes the outcome of a reconnect_media INVITE: on
// success l's dialog and media become the new ones and the old dialog is
// released quietly (BYE, no call.ended).
func (cc *CallCenter) mediaReconnected(l *leg, sipID string, media AgentLeg, dlg *outDialog, err error, af *after) {
	l.reconnect = false
	if err != nil || l.state != legConnected {
		if err != nil {
			cc.log.Warn("callcenter: media reconnection failed", "agent", l.agent.id, "call", l.call.id, "err", err)
		} else if dlg != nil {
			l.ops.post(dlg.bye) // the call ended meanwhile
		}
		af.do(func() { media.Close() })
		return
	}
	c := l.call
	oldMedia, oldDlg := l.media, l.dlg
	if oldMedia != nil {
		c.bridge.Remove(oldMedia)
		af.do(func() { oldMedia.Close() })
	}
	c.bridge.Add(media)
	if l.bridgeHeld {
		c.bridge.Hold(media, true)
	}
	delete(cc.legsBySIP, l.sipID)
	l.sipID, l.media, l.dlg = sipID, media, dlg
	cc.legsBySIP[sipID] = l
	if oldDlg != nil {
		l.ops.post(oldDlg.bye) // best effort: the old phone may be gone
	}
	cc.log.Info("callcenter: media reconnected", "agent", l.agent.id, "call", c.id) // no event: the call did not change
}
