package wspeer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/emiago/sipgo/sip"
)

// CallOption adjusts an INVITE sent by Call, CallAsync or SendRequest.
type CallOption func(*callOptions)

type callOptions struct {
	fromUser    string
	fromDisplay string
	recordRoute bool
	headers     []sip.Header
}

// WithCaller sets the From user (default "wspeer") and display name.
func WithCaller(user, displayName string) CallOption {
	return func(o *callOptions) { o.fromUser, o.fromDisplay = user, displayName }
}

// WithRecordRoute makes the peer add a Record-Route header for itself, as a
// record-routing proxy in front of the caller would. The UA must then send
// its in-dialog requests with a matching Route header (see Requests).
func WithRecordRoute() CallOption {
	return func(o *callOptions) { o.recordRoute = true }
}

// WithHeader adds an extra header to the request.
func WithHeader(name, value string) CallOption {
	return func(o *callOptions) { o.headers = append(o.headers, sip.NewHeader(name, value)) }
}

// Call is an INVITE the peer sent to a registered UA (the peer is the UAC).
// The dialog methods (Bye, Reinvite, Info, Update, Options, SendRequest,
// WaitBye, WaitRequest, Received, CallID) are promoted from the dialog.
type Call struct {
	*dialog
	invite    *sip.Request // as sent; read-only once sent
	inviteSeq uint32

	// guarded by p.mu
	provisional []int
	responses   []*sip.Response
	final       *sip.Response
	err         error
	done        bool // final response or transaction error
	acked       bool
}

// Call sends an INVITE with sdpOffer (may be empty) to user's most recently
// registered flow and waits for the final response. A non-2xx final response
// is not an error: inspect Final. A 2xx must be acknowledged with Ack.
// If ctx ends first, the returned Call is non-nil when the INVITE was sent,
// so that the caller can still Cancel it.
func (p *Peer) Call(ctx context.Context, user string, sdpOffer string, opts ...CallOption) (*Call, error) {
	c, err := p.CallAsync(ctx, user, sdpOffer, opts...)
	if err != nil {
		return c, err
	}
	if _, err := c.WaitFinal(ctx); err != nil {
		return c, err
	}
	return c, nil
}

// CallAsync sends an INVITE like Call but returns as soon as the first
// provisional response other than 100 (typically 180) or a final response
// arrives. Use WaitFinal, Cancel or Ack afterwards. As with Call, if ctx
// ends first the Call is returned together with ctx's error.
func (p *Peer) CallAsync(ctx context.Context, user string, sdpOffer string, opts ...CallOption) (*Call, error) {
	var o callOptions
	for _, f := range opts {
		f(&o)
	}
	if o.fromUser == "" {
		o.fromUser = "wspeer"
	}
	if !p.track() {
		return nil, ErrClosed
	}
	p.mu.Lock()
	b := p.latestLocked(user)
	if b == nil {
		p.mu.Unlock()
		p.wg.Done()
		return nil, fmt.Errorf("%w: %q", ErrNotRegistered, user)
	}
	d := &dialog{
		p:            p,
		callID:       randHex(12),
		localTag:     randHex(8),
		local:        sip.Uri{Scheme: "sip", User: o.fromUser, Host: p.cfg.Realm},
		remote:       sip.Uri{Scheme: "sip", User: user, Host: p.cfg.Realm},
		localSeq:     randSeq(),
		remoteTarget: *b.contact.Address.Clone(),
		flow:         b.source,
		uaUser:       user,
		uaInstance:   b.instance,
		localContact: p.contactURI(o.fromUser),
		localSDP:     sdpOffer,
		acks:         make(map[uint32]*sip.Request),
	}
	req := d.buildLocked(sip.INVITE, d.localSeq)
	if o.fromDisplay != "" {
		req.From().DisplayName = o.fromDisplay
	}
	if o.recordRoute {
		req.AppendHeader(p.recordRouteHeader())
	}
	for _, h := range o.headers {
		req.AppendHeader(h)
	}
	if sdpOffer != "" {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody([]byte(sdpOffer))
	} else {
		req.SetBody(nil)
	}
	req.SetDestination(d.flow)
	c := &Call{dialog: d, invite: req, inviteSeq: d.localSeq}
	d.call = c
	p.dialogs[d.key()] = d
	p.mu.Unlock()

	tx, err := p.txl.Request(ctx, req)
	if err != nil {
		p.mu.Lock()
		delete(p.dialogs, d.key())
		p.mu.Unlock()
		p.wg.Done()
		return nil, err
	}
	go c.run(tx)

	err = p.waitUntil(ctx, func(time.Time) (bool, time.Time) {
		return c.done || slices.ContainsFunc(c.provisional, func(code int) bool { return code > 100 }), time.Time{}
	})
	return c, err
}

// run consumes the INVITE transaction's responses.
func (c *Call) run(tx sip.ClientTransaction) {
	p := c.p
	defer p.wg.Done()
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if c.onResponse(res) {
				return
			}
		case <-tx.Done():
			p.mu.Lock()
			if !c.done {
				c.err = tx.Err()
				if c.err == nil {
					c.err = errors.New("wspeer: INVITE transaction ended without final response")
				}
				c.done = true
				c.terminated = true
				p.notifyLocked()
			}
			p.mu.Unlock()
			return
		}
	}
}

// onWireResponseLocked records a response to the INVITE in wire order. It
// runs in the connection's read goroutine: sipgo's transaction layer hands
// each message to its own goroutine, so a 180 immediately followed by a 200
// can reach the transaction after the 200 and be dropped there.
func (c *Call) onWireResponseLocked(res *sip.Response) {
	c.responses = append(c.responses, res)
	if !res.IsProvisional() {
		return
	}
	c.provisional = append(c.provisional, res.StatusCode)
	tag := ""
	if to := res.To(); to != nil {
		tag, _ = to.Params.Get("tag")
	}
	if res.StatusCode > 100 && tag != "" && c.remoteTag == "" && !c.done {
		c.remoteTag = tag // early dialog
		if ct := res.Contact(); ct != nil {
			c.remoteTarget = *ct.Address.Clone()
		}
	}
}

// onResponse handles a response passed up by the INVITE transaction; it
// reports whether it was final.
func (c *Call) onResponse(res *sip.Response) bool {
	if res.IsProvisional() {
		return false // recorded by onWireResponseLocked
	}
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.notifyLocked()
	c.final = res
	c.done = true
	if !res.IsSuccess() {
		c.terminated = true
		return true
	}
	if to := res.To(); to != nil {
		c.remoteTag, _ = to.Params.Get("tag")
	}
	if ct := res.Contact(); ct != nil {
		c.remoteTarget = *ct.Address.Clone()
	}
	rs := p.routeSetFrom(res.GetHeaders("Record-Route"))
	slices.Reverse(rs) // UAC: route set is the Record-Route list reversed
	c.routeSet = rs
	c.confirmed = true
	return true
}

// Invite returns the INVITE as sent.
func (c *Call) Invite() *sip.Request { return c.invite }

// Provisional returns the 1xx status codes received so far, in order.
func (c *Call) Provisional() []int {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	return append([]int(nil), c.provisional...)
}

// Responses returns every response to the INVITE received so far.
func (c *Call) Responses() []*sip.Response {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	return append([]*sip.Response(nil), c.responses...)
}

// Final returns the final response to the INVITE, or nil if none arrived.
func (c *Call) Final() *sip.Response {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	return c.final
}

// WaitFinal waits for the final response to the INVITE.
func (c *Call) WaitFinal(ctx context.Context) (*sip.Response, error) {
	var res *sip.Response
	var terr error
	err := c.p.waitUntil(ctx, func(time.Time) (bool, time.Time) {
		res, terr = c.final, c.err
		return c.done, time.Time{}
	})
	if err != nil {
		return nil, err
	}
	return res, terr
}

// Ack acknowledges the 2xx to the INVITE (ACK with the INVITE's CSeq
// number, new branch, the dialog's route set). Calling it again re-sends the
// ACK. ACKs for non-2xx responses are sent by sipgo's transaction.
func (c *Call) Ack() error {
	p := c.p
	p.mu.Lock()
	if c.final == nil || !c.final.IsSuccess() {
		p.mu.Unlock()
		return errors.New("wspeer: no 2xx to acknowledge")
	}
	c.acked = true
	p.mu.Unlock()
	return c.sendAck(c.inviteSeq)
}

// Bye hangs up an answered call. If the 2xx was not acknowledged yet, the
// ACK is sent first.
func (c *Call) Bye(ctx context.Context) error {
	c.p.mu.Lock()
	needAck := c.final != nil && c.final.IsSuccess() && !c.acked
	c.p.mu.Unlock()
	if needAck {
		if err := c.Ack(); err != nil {
			return err
		}
	}
	return c.dialog.Bye(ctx)
}

// Cancel cancels the pending INVITE: it sends CANCEL, waits for its
// response, then for the INVITE's final response (normally 487), which it
// returns. If the INVITE already had a final response, Cancel returns it
// with an error and sends nothing.
func (c *Call) Cancel(ctx context.Context) (*sip.Response, error) {
	p := c.p
	p.mu.Lock()
	if c.done {
		final := c.final
		p.mu.Unlock()
		return final, errors.New("wspeer: INVITE already completed")
	}
	flow := c.flow
	p.mu.Unlock()

	inv := c.invite
	cancel := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	cancel.AppendHeader(inv.Via().Clone())
	mf := sip.MaxForwardsHeader(70)
	cancel.AppendHeader(&mf)
	cancel.AppendHeader(sip.HeaderClone(inv.From()))
	cancel.AppendHeader(sip.HeaderClone(inv.To()))
	cancel.AppendHeader(sip.HeaderClone(inv.CallID()))
	cancel.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	for _, h := range inv.GetHeaders("Route") {
		cancel.AppendHeader(sip.HeaderClone(h))
	}
	cancel.SetBody(nil)
	cancel.SetTransport("WS")
	cancel.SetDestination(flow)

	res, err := p.transact(ctx, cancel)
	if err != nil {
		return nil, fmt.Errorf("wspeer: CANCEL: %w", err)
	}
	final, err := c.WaitFinal(ctx)
	if err != nil {
		return final, err
	}
	if !res.IsSuccess() {
		return final, fmt.Errorf("wspeer: CANCEL answered %d %s", res.StatusCode, res.Reason)
	}
	return final, nil
}

// SendRequest sends an out-of-dialog request (e.g. OPTIONS, MESSAGE,
// NOTIFY) to user's most recently registered flow and returns the final
// response. contentType and body may be empty.
func (p *Peer) SendRequest(ctx context.Context, user string, method sip.RequestMethod, contentType, body string, opts ...CallOption) (*sip.Response, error) {
	if method == sip.INVITE || method == sip.ACK || method == sip.CANCEL {
		return nil, fmt.Errorf("wspeer: use Call for %s", method)
	}
	var o callOptions
	for _, f := range opts {
		f(&o)
	}
	if o.fromUser == "" {
		o.fromUser = "wspeer"
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	b := p.latestLocked(user)
	if b == nil {
		p.mu.Unlock()
		return nil, fmt.Errorf("%w: %q", ErrNotRegistered, user)
	}
	d := &dialog{
		p:            p,
		callID:       randHex(12),
		localTag:     randHex(8),
		local:        sip.Uri{Scheme: "sip", User: o.fromUser, Host: p.cfg.Realm},
		remote:       sip.Uri{Scheme: "sip", User: user, Host: p.cfg.Realm},
		remoteTarget: *b.contact.Address.Clone(),
		localContact: p.contactURI(o.fromUser),
	}
	req := d.buildLocked(method, randSeq())
	flow := b.source
	p.mu.Unlock()
	if o.fromDisplay != "" {
		req.From().DisplayName = o.fromDisplay
	}
	for _, h := range o.headers {
		req.AppendHeader(h)
	}
	if body != "" {
		req.AppendHeader(sip.NewHeader("Content-Type", contentType))
		req.SetBody([]byte(body))
	} else {
		req.SetBody(nil)
	}
	req.SetDestination(flow)
	return p.transact(ctx, req)
}
