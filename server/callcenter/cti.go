package callcenter

import (
	"context"
	"slices"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// do carries out cmd for a, with the lock held. port is a simulated party
// made ready for a dial or transfer to a number; do takes it (sets it nil)
// if it uses it.
func (cc *CallCenter) do(a *agent, cmd gateway.Command, port *Port, af *after) error {
	if !knownOp(cmd.Op) {
		return gateway.Errorf(gateway.CodeUnsupported, "unknown command %q", cmd.Op)
	}
	switch cmd.Op {
	case gateway.OpReady, gateway.OpNotReady, gateway.OpRest, gateway.OpWrapUpDone:
		return cc.changeState(a, cmd, af)
	case gateway.OpDial:
		return cc.dial(a, cmd.Target, port, af)
	}
	l, err := cc.legFor(a, cmd)
	if err != nil {
		return err
	}
	switch cmd.Op {
	case gateway.OpAnswer:
		if l.state != legRinging {
			return gateway.Errorf(gateway.CodeNoCall, "no call is ringing")
		}
		return nil // the phone answers; the call center follows its 200
	case gateway.OpReject:
		return cc.reject(l, af)
	case gateway.OpHangup:
		if l.state == legRinging {
			return cc.reject(l, af)
		}
		cc.endLeg(l, CauseAgentHangup, af)
		return nil
	case gateway.OpHold, gateway.OpResume:
		return cc.hold(l, cmd.Op == gateway.OpHold)
	case gateway.OpMute, gateway.OpUnmute:
		return cc.mute(l, cmd.Op == gateway.OpMute)
	case gateway.OpDTMF:
		if !isDTMF(cmd.Digits) {
			return gateway.Errorf(gateway.CodeBadRequest, "digits must be 0-9, *, #, A-D")
		}
		if err := connected(l); err != nil {
			return err
		}
		cc.sendDTMF(l.call, cmd.Digits, af)
		cc.emit(a, gateway.Event{Type: gateway.EvDTMF, Call: cc.callInfo(l), Digits: cmd.Digits})
		return nil
	case gateway.OpTransfer:
		return cc.transfer(l, cmd.Target, port, af)
	case gateway.OpConsult:
		return cc.consult(l, cmd.Target, af)
	case gateway.OpCompleteTransfer:
		return cc.completeTransfer(l, af)
	case gateway.OpCancelConsult:
		return cc.cancelConsult(l, af)
	case gateway.OpConference:
		return cc.conference(l, af)
	case gateway.OpReconnectMedia:
		return cc.reconnectMedia(l, af)
	}
	return gateway.Errorf(gateway.CodeUnsupported, "unknown command %q", cmd.Op)
}

// knownOp tells whether op is a command of the gateway contract; the call
// center carries out all of them.
func knownOp(op gateway.Op) bool {
	switch op {
	case gateway.OpReady, gateway.OpNotReady, gateway.OpRest, gateway.OpWrapUpDone,
		gateway.OpAnswer, gateway.OpReject, gateway.OpHangup, gateway.OpHold, gateway.OpResume,
		gateway.OpMute, gateway.OpUnmute, gateway.OpDial, gateway.OpDTMF, gateway.OpTransfer,
		gateway.OpConsult, gateway.OpCompleteTransfer, gateway.OpCancelConsult, gateway.OpConference,
		gateway.OpReconnectMedia:
		return true
	}
	return false
}

// legFor is the leg of a's call the command is about: the one named by
// CallID, or the agent's current call.
func (cc *CallCenter) legFor(a *agent, cmd gateway.Command) (*leg, error) {
	for _, l := range a.legs {
		if cmd.CallID == "" || l.call.id == cmd.CallID {
			return l, nil
		}
	}
	if cmd.CallID != "" {
		return nil, gateway.Errorf(gateway.CodeNoCall, "no call %q", cmd.CallID)
	}
	return nil, gateway.Errorf(gateway.CodeNoCall, "no call")
}

// connected refuses a leg that is not answered.
func connected(l *leg) error {
	if l.state != legConnected {
		return gateway.Errorf(gateway.CodeNotAllowed, "the call is not answered yet")
	}
	return nil
}

// changeState handles ready, not ready, rest and wrap-up done.
func (cc *CallCenter) changeState(a *agent, cmd gateway.Command, af *after) error {
	if a.state == gateway.StateBusy || len(a.legs) > 0 {
		return gateway.Errorf(gateway.CodeNotAllowed, "not allowed while on a call")
	}
	switch cmd.Op {
	case gateway.OpReady:
		if a.state != gateway.StateReady {
			cc.setState(a, gateway.StateReady, "", af)
		}
	case gateway.OpWrapUpDone:
		if a.state != gateway.StateWrapUp {
			return gateway.Errorf(gateway.CodeNotAllowed, "not in wrap-up")
		}
		cc.setState(a, gateway.StateReady, "", af)
	case gateway.OpNotReady, gateway.OpRest:
		rest := cmd.Op == gateway.OpRest
		if cmd.Reason != "" && !cc.knownReason(cmd.Reason, rest) {
			return gateway.Errorf(gateway.CodeBadRequest, "unknown reason %q", cmd.Reason)
		}
		st := gateway.StateNotReady
		if rest {
			st = gateway.StateRest
		}
		cc.setState(a, st, cmd.Reason, af)
	}
	return nil
}

// knownReason tells whether code is a configured reason of the right kind
// (or one of the system's not-ready reasons).
func (cc *CallCenter) knownReason(code string, rest bool) bool {
	if !rest && (code == ReasonRejected || code == ReasonMissed) {
		return true
	}
	return slices.ContainsFunc(cc.cfg.Reasons, func(r gateway.Reason) bool { return r.Code == code && r.Rest == rest })
}

// reject refuses a ringing offer: the INVITE is cancelled, the call goes
// back to its queue's head and the agent goes not ready ("rejected"). An
// agent dropping its own outgoing call just cancels it.
func (cc *CallCenter) reject(l *leg, af *after) error {
	if l.state != legRinging {
		return gateway.Errorf(gateway.CodeNotAllowed, "the call is not ringing")
	}
	cause := ReasonRejected
	if l.role == roleDialer {
		cause = CauseAgentHangup
	}
	cc.endLeg(l, cause, af)
	return nil
}

// hold puts the call on hold (on=true) or takes it off: the customer hears
// hold at once, the phone gets a re-INVITE (sendonly, or sendrecv), and
// call.held or call.resumed follows the phone's answer.
func (cc *CallCenter) hold(l *leg, on bool) error {
	if err := connected(l); err != nil {
		return err
	}
	c := l.call
	switch {
	case on && l.held, !on && !l.held:
		return gateway.Errorf(gateway.CodeNotAllowed, "the call is already %s", map[bool]string{true: "held", false: "not held"}[on])
	case on && (c.consult != nil || c.conference):
		return gateway.Errorf(gateway.CodeNotAllowed, "not allowed during a consult or conference")
	}
	l.held = on
	cc.applyHold(c)
	dir, ev := dirSendRecv, gateway.EvCallResumed
	if on {
		dir, ev = dirSendOnly, gateway.EvCallHeld
	}
	cc.renegotiate(l, dir, func(af *after) { cc.callEvent(l, ev, "") })
	return nil
}

// renegotiate sends the phone of l a re-INVITE with the given direction
// (after any SIP request already queued for it), then runs done with the
// lock held if the leg is still connected.
func (cc *CallCenter) renegotiate(l *leg, dir string, done func(af *after)) {
	media, dlg := l.media, l.dlg
	l.ops.post(func() {
		ctx, cancel := context.WithTimeout(cc.ctx, opTimeout)
		defer cancel()
		offer, err := media.Offer(ctx, dir)
		if err == nil {
			var answer []byte
			if answer, err = dlg.reinvite(ctx, offer); err == nil {
				err = media.SetAnswer(answer)
			}
		}
		if err != nil {
			cc.log.Warn("callcenter: re-INVITE to phone failed", "agent", l.agent.id, "dir", dir, "err", err)
		}
		cc.update(func(af *after) {
			if l.state == legConnected && done != nil {
				done(af)
			}
		})
	})
}

// mute records that the agent muted or unmuted (the phone does the muting).
func (cc *CallCenter) mute(l *leg, on bool) error {
	if err := connected(l); err != nil {
		return err
	}
	if l.muted == on {
		return gateway.Errorf(gateway.CodeNotAllowed, "the call is already %s", map[bool]string{true: "muted", false: "unmuted"}[on])
	}
	l.muted = on
	ev := gateway.EvCallUnmuted
	if on {
		ev = gateway.EvCallMuted
	}
	cc.callEvent(l, ev, "")
	return nil
}
