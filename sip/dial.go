package sip

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	gosip "github.com/emiago/sipgo/sip"

	"github.com/agentbar/agentbar/sip/check"
)

// Dial places a call to target (a SIP URI, or a user or number at our
// domain) and returns once it is answered. Provisional responses are
// reported as EventCallProgress, early media as EventCallEarlyMedia. To
// abandon the call before it is answered, cancel ctx or call Hangup from
// another goroutine: the UA sends CANCEL and Dial returns ErrCanceled. A
// refusal is a *StatusError carrying the status code.
func (ua *UA) Dial(ctx context.Context, target string, media Media) (*Call, error) {
	to, err := ua.targetURI(target)
	if err != nil {
		return nil, err
	}
	ua.mu.Lock()
	closed := ua.closed
	routes := slices.Clone(ua.reg.serviceRte)
	ua.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	offer, err := media.Offer(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMedia, err)
	}
	req := ua.newRequest(gosip.INVITE, to, to, uuid(), 1)
	for _, r := range routes {
		req.AppendHeader(&gosip.RouteHeader{Address: r})
	}
	req.AppendHeader(ua.dialogContact())
	req.AppendHeader(gosip.NewHeader("Allow", allowed))
	req.AppendHeader(gosip.NewHeader("Supported", "outbound"))
	req.AppendHeader(gosip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)

	from := req.From()
	localTag, _ := from.Params.Get("tag")
	c := &Call{
		ua: ua, dir: Outbound, callID: req.CallID().Value(), invite: req, state: CallDialing,
		media: media, localTag: localTag, localURI: from.Address, localName: from.DisplayName,
		remoteURI: to, remoteTarget: to, routes: routes, localSeq: 1,
		hangupReq: make(chan struct{}), done: make(chan struct{}),
	}
	ua.mu.Lock()
	ua.calls[c.callID] = c
	ua.mu.Unlock()
	if err := c.runInvite(ctx, req); err != nil {
		return c, err
	}
	return c, nil
}

// targetURI reads a dial target: a sip:/sips:/tel: URI, or a bare user or
// number at our domain.
func (ua *UA) targetURI(target string) (gosip.Uri, error) {
	target = strings.TrimSpace(target)
	if target == "" {
		return gosip.Uri{}, errors.New("sip: empty dial target")
	}
	if !strings.Contains(target, ":") {
		target = "sip:" + target + "@" + ua.aor.HostPort()
	}
	var u gosip.Uri
	if err := gosip.ParseUri(target, &u); err != nil {
		return gosip.Uri{}, fmt.Errorf("sip: invalid dial target %q: %w", target, err)
	}
	return u, nil
}

// runInvite drives the INVITE client transaction (RFC 3261 §13.2): digest
// retries, provisional responses and early dialogs, CANCEL on request (only
// after a provisional response, §9.1), and the ACK of the 2xx.
func (c *Call) runInvite(ctx context.Context, req *gosip.Request) error {
	ua := c.ua
	authTried := map[string]bool{}
	stop := ctx.Done()
	hangup := c.hangupReq
	cancelWanted, canceled, provisional := false, false, false
	for {
		p, err := ua.send(req)
		if err != nil {
			c.end(CauseTransport, 0, err)
			return err
		}
		p.tx.OnRetransmission(c.strayInvite2xx)
		c.mu.Lock()
		c.invite = req
		c.mu.Unlock()
		retry := false
		for !retry {
			var res *gosip.Response
			select {
			case res = <-p.tx.Responses():
			case <-stop:
				stop, cancelWanted = nil, true
			case <-hangup:
				hangup, cancelWanted = nil, true
			case <-p.f.done:
				ua.finish(p)
				err := fmt.Errorf("%w: flow lost while calling", ErrTransport)
				c.end(CauseTransport, 0, err)
				return err
			case <-p.dead:
				ua.finish(p)
				if cancelWanted {
					c.end(CauseCanceled, 0, nil)
					return ErrCanceled
				}
				err := fmt.Errorf("%w: INVITE got no final response in %s", ErrTimeout, ua.cfg.TransactionTimeout)
				c.end(CauseFailed, 408, err)
				return err
			case <-p.tx.Done():
				ua.finish(p)
				err := fmt.Errorf("%w: INVITE transaction ended: %v", ErrTransport, p.tx.Err())
				c.end(CauseFailed, 0, err)
				return err
			}
			if res != nil {
				switch {
				case res.IsProvisional():
					provisional = provisional || res.StatusCode > 100
					c.onProvisional(ctx, res)
				case res.IsSuccess():
					ua.finishLater(p)
					return c.onInvite2xx(ctx, req, res, canceled || cancelWanted)
				case (res.StatusCode == 401 || res.StatusCode == 407) && !cancelWanted && ua.authorize(ctx, req, res, authTried) == nil:
					ua.finish(p)
					req = nextAttempt(req)
					c.followSeq(req)
					retry = true
				default:
					ua.finish(p)
					if canceled || cancelWanted {
						c.end(CauseCanceled, res.StatusCode, nil)
						return ErrCanceled
					}
					err := &StatusError{Method: "INVITE", Code: res.StatusCode, Reason: res.Reason}
					c.end(CauseFailed, res.StatusCode, err)
					return err
				}
			}
			if cancelWanted && provisional && !canceled {
				canceled = true
				ua.sendCancel(req)
			}
		}
	}
}

// finishLater forgets an INVITE client transaction once it has absorbed 2xx
// retransmissions (RFC 6026 Accepted state); it passes them to the call.
func (ua *UA) finishLater(p *pending) {
	p.stop.Stop()
	go func() {
		<-p.tx.Done()
		ua.mu.Lock()
		delete(ua.clientTxs, p.tx.Key())
		ua.mu.Unlock()
	}()
}

// onProvisional handles a 1xx to our INVITE: an early dialog from its tag,
// early media from its SDP.
func (c *Call) onProvisional(ctx context.Context, res *gosip.Response) {
	if res.StatusCode == 100 {
		return
	}
	c.ua.emit(Event{Kind: EventCallProgress, Call: c, Code: res.StatusCode, Reason: res.Reason})
	sdp, _ := check.SDP(headerValue(res, "Content-Type"), res.Body())
	if len(sdp) == 0 {
		return
	}
	c.mu.Lock()
	media := c.media
	c.mu.Unlock()
	if err := media.SetAnswer(ctx, sdp, true); err != nil {
		c.ua.log.Warn("sip: early media answer refused", "call", c.callID, "err", err)
		return
	}
	c.ua.emit(Event{Kind: EventCallEarlyMedia, Call: c, Code: res.StatusCode})
}

// onInvite2xx confirms the dialog of a 2xx to our INVITE and ACKs it. If we
// had wanted to cancel, or the answer is unusable, the call is ended with
// BYE right after the ACK (RFC 3261 §15).
func (c *Call) onInvite2xx(ctx context.Context, req *gosip.Request, res *gosip.Response, canceled bool) error {
	tag, _ := res.To().Params.Get("tag")
	c.mu.Lock()
	c.remoteTag = tag
	if ct := res.Contact(); ct != nil {
		c.remoteTarget = ct.Address
	}
	c.routes = c.routes[:0]
	rrs := res.GetHeaders("Record-Route")
	for i := len(rrs) - 1; i >= 0; i-- {
		if rr, ok := rrs[i].(*gosip.RecordRouteHeader); ok {
			c.routes = append(c.routes, rr.Address)
		}
	}
	c.state = CallActive
	media := c.media
	c.mu.Unlock()
	c.sendAck(req, res)
	if canceled {
		c.sendBye(context.Background())
		c.end(CauseCanceled, 0, nil)
		return ErrCanceled
	}
	sdp, _ := check.SDP(headerValue(res, "Content-Type"), res.Body())
	if err := media.SetAnswer(ctx, sdp, false); err != nil {
		c.sendBye(context.Background())
		err = fmt.Errorf("%w: %v", ErrMedia, err)
		c.end(CauseFailed, 0, err)
		return err
	}
	c.ua.log.Info("sip: call answered", "call", c.callID)
	c.ua.emit(Event{Kind: EventCallAnswered, Call: c})
	return nil
}

// sendCancel cancels our pending INVITE (RFC 3261 §9.1): same Request-URI,
// Call-ID, From, To, Route and Via branch, CSeq number with method CANCEL.
func (ua *UA) sendCancel(invite *gosip.Request) {
	cancel := gosip.NewRequest(gosip.CANCEL, *invite.Recipient.Clone())
	cancel.AppendHeader(invite.Via().Clone())
	for _, h := range invite.GetHeaders("Route") {
		cancel.AppendHeader(gosip.HeaderClone(h))
	}
	mf := gosip.MaxForwardsHeader(70)
	cancel.AppendHeader(&mf)
	for _, name := range []string{"From", "To", "Call-ID"} {
		cancel.AppendHeader(gosip.HeaderClone(invite.GetHeader(name)))
	}
	cancel.AppendHeader(&gosip.CSeqHeader{SeqNo: invite.CSeq().SeqNo, MethodName: gosip.CANCEL})
	cancel.AppendHeader(gosip.NewHeader("User-Agent", ua.cfg.UserAgent))
	cancel.SetTransport(ua.tp)
	p, err := ua.send(cancel)
	if err != nil {
		ua.log.Debug("sip: CANCEL not sent", "err", err)
		return
	}
	go func() {
		defer ua.finish(p)
		for {
			res, err := ua.next(ua.ctx, p)
			if err != nil || !res.IsProvisional() {
				return
			}
		}
	}()
}

// strayInvite2xx handles a 2xx to our INVITE that arrives after the first:
// a retransmission gets the same ACK again; a 2xx from another fork (a
// different To tag) is acknowledged and hung up (RFC 3261 §13.2.2.4).
func (c *Call) strayInvite2xx(res *gosip.Response) {
	tag, _ := res.To().Params.Get("tag")
	c.mu.Lock()
	ack, mine := c.ack, tag == c.remoteTag
	c.mu.Unlock()
	f := c.ua.currentFlow()
	if f == nil {
		return
	}
	if mine {
		if ack != nil {
			f.WriteMsg(ack)
		}
		return
	}
	fork := &Call{ua: c.ua, callID: c.callID, localTag: c.localTag, localURI: c.localURI, remoteURI: c.remoteURI, remoteTag: tag, done: make(chan struct{})}
	if ct := res.Contact(); ct != nil {
		fork.remoteTarget = ct.Address
	} else {
		return
	}
	rrs := res.GetHeaders("Record-Route")
	for i := len(rrs) - 1; i >= 0; i-- {
		if rr, ok := rrs[i].(*gosip.RecordRouteHeader); ok {
			fork.routes = append(fork.routes, rr.Address)
		}
	}
	fork.localSeq = res.CSeq().SeqNo
	fork.sendAck(c.invite, res)
	go fork.sendBye(context.Background())
}
