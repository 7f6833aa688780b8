package wspeer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// dialogKey identifies a dialog from the peer's side: every dialog the peer
// takes part in has a local tag the peer chose, unique per dialog.
type dialogKey struct {
	callID   string
	localTag string
}

// dialog is the state of one INVITE dialog, shared by Call (peer is the
// UAC) and ServerCall (peer is the UAS). All fields after p are guarded by
// p.mu. Its exported methods are promoted to Call and ServerCall.
type dialog struct {
	p *Peer

	callID    string
	localTag  string
	remoteTag string
	local     sip.Uri // the peer's URI (From when UAC, To when UAS)
	remote    sip.Uri // the UA's URI
	localSeq  uint32
	remoteSeq uint32
	remoteSet bool // remoteSeq is known

	remoteTarget sip.Uri
	routeSet     []sip.Uri
	flow         string // remote address of the WebSocket connection
	uaUser       string // the UA's AoR user, to find a replacement flow
	uaInstance   string // the UA's +sip.instance, to find a replacement flow
	localContact sip.Uri
	localSDP     string

	confirmed   bool // 2xx sent or received
	terminated  bool
	byeAnswered bool // the UA sent BYE and the peer answered 200

	received []*sip.Request // in-dialog requests from the UA, wire order
	taken    []bool         // consumed by WaitRequest
	acks     map[uint32]*sip.Request
	call     *Call // set when the peer is the UAC
}

func (d *dialog) key() dialogKey { return dialogKey{callID: d.callID, localTag: d.localTag} }

// CallID returns the dialog's Call-ID.
func (d *dialog) CallID() string { return d.callID }

// Received returns the in-dialog requests the UA sent in this dialog
// (including ACK and BYE), in arrival order. They are copies.
func (d *dialog) Received() []*sip.Request {
	d.p.mu.Lock()
	defer d.p.mu.Unlock()
	return append([]*sip.Request(nil), d.received...)
}

// WaitRequest waits for an in-dialog request with the given method from the
// UA and returns the oldest one not yet returned by WaitRequest. It returns
// as soon as the request arrived; the peer's answer may still be on its way.
func (d *dialog) WaitRequest(ctx context.Context, method sip.RequestMethod) (*sip.Request, error) {
	var got *sip.Request
	err := d.p.waitUntil(ctx, func(time.Time) (bool, time.Time) {
		for i, r := range d.received {
			if !d.taken[i] && r.Method == method {
				d.taken[i] = true
				got = r
				return true, time.Time{}
			}
		}
		return false, time.Time{}
	})
	return got, err
}

// WaitBye waits until the UA hung up: it sent BYE in this dialog and the
// peer answered 200.
func (d *dialog) WaitBye(ctx context.Context) error {
	return d.p.waitUntil(ctx, func(time.Time) (bool, time.Time) {
		return d.byeAnswered, time.Time{}
	})
}

// Bye hangs up: it sends BYE in the dialog and waits for the final
// response. A non-2xx final response is returned as an error.
func (d *dialog) Bye(ctx context.Context) error {
	res, err := d.SendRequest(ctx, sip.BYE, "", "")
	if err != nil {
		return err
	}
	if !res.IsSuccess() {
		return fmt.Errorf("wspeer: BYE answered %d %s", res.StatusCode, res.Reason)
	}
	return nil
}

// Reinvite sends a re-INVITE with sdp as offer and returns the final
// response. A 2xx is acknowledged (ACK with the re-INVITE's CSeq number);
// sipgo's transaction acknowledges any other final response.
func (d *dialog) Reinvite(ctx context.Context, sdp string) (*sip.Response, error) {
	ct := ""
	if sdp != "" {
		ct = "application/sdp"
	}
	return d.SendRequest(ctx, sip.INVITE, ct, sdp)
}

// Info sends INFO with the given body and returns the final response.
func (d *dialog) Info(ctx context.Context, contentType, body string) (*sip.Response, error) {
	return d.SendRequest(ctx, sip.INFO, contentType, body)
}

// Update sends UPDATE without a body (a session refresh) and returns the
// final response.
func (d *dialog) Update(ctx context.Context) (*sip.Response, error) {
	return d.SendRequest(ctx, sip.UPDATE, "", "")
}

// Options sends OPTIONS in the dialog and returns the final response.
func (d *dialog) Options(ctx context.Context) (*sip.Response, error) {
	return d.SendRequest(ctx, sip.OPTIONS, "", "")
}

// SendRequest sends any in-dialog request (not ACK or CANCEL) with the next
// local CSeq, the dialog's route set and tags, over the dialog's flow, and
// returns the final response. For INVITE, a 2xx is acknowledged and the
// remote target refreshed. contentType and body may be empty.
func (d *dialog) SendRequest(ctx context.Context, method sip.RequestMethod, contentType, body string) (*sip.Response, error) {
	if method == sip.ACK || method == sip.CANCEL {
		return nil, fmt.Errorf("wspeer: %s cannot be sent with SendRequest", method)
	}
	p := d.p
	p.mu.Lock()
	if d.remoteTag == "" || (!d.confirmed && method != sip.UPDATE && method != sip.INFO && method != sip.OPTIONS) {
		p.mu.Unlock()
		return nil, errors.New("wspeer: dialog not established")
	}
	if d.terminated && method != sip.BYE {
		p.mu.Unlock()
		return nil, errors.New("wspeer: dialog terminated")
	}
	d.localSeq++
	seq := d.localSeq
	req := d.buildLocked(method, seq)
	if body != "" {
		req.AppendHeader(sip.NewHeader("Content-Type", contentType))
		req.SetBody([]byte(body))
		if method == sip.INVITE || method == sip.UPDATE {
			d.localSDP = body
		}
	} else {
		req.SetBody(nil)
	}
	flow, err := p.flowForLocked(d)
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	req.SetDestination(flow)

	res, err := p.transact(ctx, req)
	if err != nil {
		return nil, err
	}
	if method == sip.BYE {
		p.mu.Lock()
		d.terminated = true
		p.notifyLocked()
		p.mu.Unlock()
	}
	if res.IsSuccess() && (method == sip.INVITE || method == sip.UPDATE) {
		p.mu.Lock()
		if c := res.Contact(); c != nil {
			d.remoteTarget = *c.Address.Clone()
		}
		p.mu.Unlock()
	}
	if method == sip.INVITE && res.IsSuccess() {
		if err := d.sendAck(seq); err != nil {
			return res, err
		}
	}
	return res, nil
}

// buildLocked builds an in-dialog request with the dialog's identifiers and
// route set. The caller sets body and destination.
func (d *dialog) buildLocked(method sip.RequestMethod, seq uint32) *sip.Request {
	req := sip.NewRequest(method, *d.remoteTarget.Clone())
	req.AppendHeader(d.p.newVia())
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &sip.FromHeader{Address: *d.local.Clone()}
	from.Params.Add("tag", d.localTag)
	to := &sip.ToHeader{Address: *d.remote.Clone()}
	if d.remoteTag != "" {
		to.Params.Add("tag", d.remoteTag)
	}
	cid := sip.CallIDHeader(d.callID)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	for _, r := range d.routeSet {
		req.AppendHeader(&sip.RouteHeader{Address: *r.Clone()})
	}
	if method == sip.INVITE || method == sip.UPDATE {
		req.AppendHeader(&sip.ContactHeader{Address: *d.localContact.Clone()})
	}
	if method == sip.INVITE {
		req.AppendHeader(sip.NewHeader("Allow", allowMethods))
	}
	req.SetTransport("WS")
	return req
}

// sendAck sends the ACK for a 2xx to the INVITE with CSeq number seq and
// keeps it to answer 2xx retransmissions.
func (d *dialog) sendAck(seq uint32) error {
	p := d.p
	p.mu.Lock()
	ack := d.buildLocked(sip.ACK, seq)
	ack.SetBody(nil)
	flow, err := p.flowForLocked(d)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	ack.SetDestination(flow)
	d.acks[seq] = ack.Clone()
	p.mu.Unlock()
	return p.tpl.WriteMsg(ack)
}

// flowForLocked returns the address of the flow to send the dialog's
// requests on: the dialog's own flow while it is open, else (RFC 5626) the
// newest open flow registered by the same UA instance, or by a contact with
// the same host as the remote target when the UA sent no instance.
func (p *Peer) flowForLocked(d *dialog) (string, error) {
	if p.closed {
		return "", ErrClosed
	}
	if p.flowAliveLocked(d.flow) {
		return d.flow, nil
	}
	p.pruneLocked(time.Now())
	var best *binding
	for _, b := range p.bindings {
		if b.user != d.uaUser || !p.flowAliveLocked(b.source) {
			continue
		}
		same := b.instance != "" && b.instance == d.uaInstance
		if d.uaInstance == "" {
			same = strings.EqualFold(b.contact.Address.Host, d.remoteTarget.Host)
		}
		if same && (best == nil || !b.updated.Before(best.updated)) {
			best = b
		}
	}
	if best == nil {
		return "", ErrFlowClosed
	}
	d.flow = best.source
	return d.flow, nil
}

// transact runs a non-ACK request through a sipgo client transaction and
// returns its final response.
func (p *Peer) transact(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	tx, err := p.txl.Request(ctx, req)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				return nil, err
			}
			return nil, errors.New("wspeer: transaction ended without final response")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// handleInDialog answers a request that carries a To tag.
func (p *Peer) handleInDialog(req *sip.Request, tx sip.ServerTransaction) {
	tag, _ := req.To().Params.Get("tag")
	cid, cseq := req.CallID(), req.CSeq()
	if cid == nil || cseq == nil || req.From() == nil {
		p.respond(tx, req, 400, nil)
		return
	}
	p.mu.Lock()
	d := p.dialogs[dialogKey{callID: cid.Value(), localTag: tag}]
	if d == nil || (req.Method == sip.CANCEL) {
		p.mu.Unlock()
		p.respond(tx, req, 481, nil)
		return
	}
	// RFC 3261 12.2.2: a new request must have a higher CSeq.
	if d.remoteSet && cseq.SeqNo <= d.remoteSeq {
		p.mu.Unlock()
		p.respond(tx, req, 500, nil)
		return
	}
	d.remoteSeq, d.remoteSet = cseq.SeqNo, true
	if d.remoteTag == "" {
		if ft, ok := req.From().Params.Get("tag"); ok {
			d.remoteTag = ft
		}
	}
	if c := req.Contact(); c != nil && (req.Method == sip.INVITE || req.Method == sip.UPDATE) {
		d.remoteTarget = *c.Address.Clone()
	}
	sdp := d.localSDP
	contact := d.localContact
	p.mu.Unlock()

	switch req.Method {
	case sip.BYE:
		res := p.newResponse(req, 200, nil)
		p.mu.Lock()
		d.terminated = true
		p.mu.Unlock()
		p.send(tx, res)
		p.mu.Lock()
		d.byeAnswered = true
		p.notifyLocked()
		p.mu.Unlock()
	case sip.INVITE, sip.UPDATE:
		var body []byte
		if req.Method == sip.INVITE || len(req.Body()) > 0 {
			body = []byte(sdp)
		}
		res := p.newResponse(req, 200, nil)
		res.AppendHeader(&sip.ContactHeader{Address: *contact.Clone()})
		if len(body) > 0 {
			res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		}
		res.SetBody(body)
		p.send(tx, res)
	case sip.INFO, sip.OPTIONS, sip.MESSAGE, sip.NOTIFY:
		p.respond(tx, req, 200, nil)
	default:
		res := p.newResponse(req, 405, nil)
		res.AppendHeader(sip.NewHeader("Allow", allowMethods))
		p.send(tx, res)
	}
}

// routeSetFrom returns the Record-Route URIs of msg in header order,
// without the peer's own entries (the peer consumes those as the proxy).
func (p *Peer) routeSetFrom(hs []sip.Header) []sip.Uri {
	var out []sip.Uri
	for _, h := range hs {
		if rr, ok := h.(*sip.RecordRouteHeader); ok && !p.ownURI(rr.Address) {
			out = append(out, *rr.Address.Clone())
		}
	}
	return out
}
