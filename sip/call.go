package sip

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	gosip "github.com/emiago/sipgo/sip"

	"github.com/agentbar/agentbar/sip/check"
)

// Media produces and consumes the session descriptions of one call (RFC
// 3264 offer/answer). The UA carries SDP; what the SDP means is the media's
// business (WebRTC in the browser, pion natively, a fake in tests).
type Media interface {
	// Offer returns a local offer (an outgoing call, an offerless INVITE, a re-INVITE of ours).
	Offer(ctx context.Context) ([]byte, error)
	// Answer applies a remote offer and returns the local answer.
	Answer(ctx context.Context, offer []byte) ([]byte, error)
	// SetAnswer applies the remote answer to our last offer. provisional is
	// true for the answer of an early-media 18x, which a later 2xx confirms
	// (WebRTC's "pranswer").
	SetAnswer(ctx context.Context, answer []byte, provisional bool) error
}

// Direction says who placed a call.
type Direction int

// Call directions.
const (
	Inbound Direction = iota + 1
	Outbound
)

// CallState is where a call stands.
type CallState int

// Call states.
const (
	CallRinging   CallState = iota + 1 // inbound, not answered yet
	CallDialing                        // outbound, no final response yet
	CallAnswering                      // inbound, media answering in progress
	CallActive                         // answered (dialog confirmed)
	CallEnded
)

func (s CallState) String() string {
	return [...]string{"", "ringing", "dialing", "answering", "active", "ended"}[s]
}

// mediaTimeout bounds one call into Media for work the far end started.
const mediaTimeout = 10 * time.Second

// Call is one INVITE dialog, inbound or outbound. Its methods are safe for
// concurrent use.
type Call struct {
	ua     *UA
	dir    Direction
	callID string
	invite *gosip.Request // the initial INVITE, received or sent (last attempt)

	mu           sync.Mutex
	state        CallState
	media        Media
	localTag     string
	remoteTag    string
	localURI     gosip.Uri
	localName    string
	remoteURI    gosip.Uri
	localSeq     uint32
	remoteSeq    uint32
	remoteTarget gosip.Uri
	routes       []gosip.Uri
	remoteHold   bool
	offer        []byte // inbound: the SDP offer of the INVITE
	early        []byte // inbound: the answer sent ahead in a 183 (EarlyMedia)
	inviteTx     *gosip.ServerTx
	pendingOK    *pendingOK     // our 2xx to an INVITE, until ACKed
	ack          *gosip.Request // outbound: the ACK of the 2xx, resent on retransmissions
	reinviting   bool
	hangupReq    chan struct{} // outbound, before answer: Hangup asked to cancel
	cause        EndCause
	endCode      int
	endErr       error
	done         chan struct{}
}

// pendingOK is a 2xx to an INVITE we keep retransmitting until its ACK
// arrives (RFC 3261 §13.3.1.4).
type pendingOK struct {
	res       *gosip.Response
	seq       uint32
	offerless bool // the 2xx carried our offer: the ACK carries the answer
	acked     chan struct{}
}

// ID is the call's Call-ID.
func (c *Call) ID() string { return c.callID }

// Direction says whether the call came in or went out.
func (c *Call) Direction() Direction { return c.dir }

// State is the call's current state.
func (c *Call) State() CallState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Remote is the other party's URI (From of an inbound call, To of an outbound one).
func (c *Call) Remote() string { return c.remoteURI.String() }

// RemoteName is the other party's display name, if any.
func (c *Call) RemoteName() string {
	if c.dir == Inbound {
		return c.invite.From().DisplayName
	}
	return c.invite.To().DisplayName
}

// Header returns a header of the initial INVITE (for call data such as
// X- headers or P-Asserted-Identity), or "".
func (c *Call) Header(name string) string { return headerValue(c.invite, name) }

// RemoteHold tells whether the far end has put the call on hold.
func (c *Call) RemoteHold() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remoteHold
}

// Done is closed when the call has ended.
func (c *Call) Done() <-chan struct{} { return c.done }

// End tells why and how the call ended; valid once Done is closed.
func (c *Call) End() (cause EndCause, code int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause, c.endCode, c.endErr
}

// matches tells whether a request with these tags belongs to the call's dialog.
func (c *Call) matches(toTag, fromTag string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return toTag == c.localTag && (c.remoteTag == "" || fromTag == c.remoteTag)
}

// end moves the call to CallEnded once and reports it.
func (c *Call) end(cause EndCause, code int, err error) {
	c.mu.Lock()
	if c.state == CallEnded {
		c.mu.Unlock()
		return
	}
	c.state = CallEnded
	c.mu.Unlock()
	c.finish(cause, code, err)
}

// finish records why a call that is now CallEnded ended, forgets it, and
// reports it; it runs once per call.
func (c *Call) finish(cause EndCause, code int, err error) {
	c.mu.Lock()
	c.cause, c.endCode, c.endErr = cause, code, err
	close(c.done)
	c.mu.Unlock()
	c.ua.mu.Lock()
	if c.ua.calls[c.callID] == c {
		delete(c.ua.calls, c.callID)
	}
	c.ua.mu.Unlock()
	c.ua.log.Info("sip: call ended", "call", c.callID, "cause", cause, "code", code)
	c.ua.emit(Event{Kind: EventCallEnded, Call: c, Cause: cause, Code: code, Err: err})
}

// ---- inbound ----

// incomingInvite starts an inbound call: 180 with our tag and Contact (an
// early dialog) at once, then the application decides. No 100 Trying: it
// is only for a UAS that takes longer than 200 ms to answer (RFC 3261
// §17.2.1), and in a browser it would only delay the 180.
func (ua *UA) incomingInvite(tx *gosip.ServerTx, req *gosip.Request) {
	callID := req.CallID().Value()
	fromTag, _ := req.From().Params.Get("tag")
	ua.mu.Lock()
	_, dup := ua.calls[callID]
	closed := ua.closed
	ua.mu.Unlock()
	switch {
	case dup:
		ua.respond(tx, req, 482, "Loop Detected", "") // RFC 3261 §8.2.2.2: a merged request
		return
	case closed:
		ua.respond(tx, req, 480, "Temporarily Unavailable", "")
		return
	}
	offer, _ := check.SDP(headerValue(req, "Content-Type"), req.Body())
	c := &Call{
		ua: ua, dir: Inbound, callID: callID, invite: req, state: CallRinging,
		localTag: randomToken(10), remoteTag: fromTag,
		localURI: req.To().Address, remoteURI: req.From().Address,
		remoteSeq: req.CSeq().SeqNo, offer: offer, inviteTx: tx,
		done: make(chan struct{}),
	}
	if ct := req.Contact(); ct != nil {
		c.remoteTarget = ct.Address
	}
	for _, h := range req.GetHeaders("Record-Route") {
		if rr, ok := h.(*gosip.RecordRouteHeader); ok {
			c.routes = append(c.routes, rr.Address)
		}
	}
	ua.mu.Lock()
	ua.calls[callID] = c
	ua.mu.Unlock()
	ua.respond(tx, req, 180, "Ringing", c.localTag, ua.dialogContact())
	go c.watchInviteTx(tx)
	ua.log.Info("sip: incoming call", "call", callID, "from", req.From().Address.String())
	if fn := ua.cfg.OnIncoming; fn != nil {
		ua.events.post(func() { fn(c) })
	} else {
		c.Reject(480, "Temporarily Unavailable")
	}
}

// watchInviteTx ends a ringing call whose transaction dies (flow lost).
func (c *Call) watchInviteTx(tx *gosip.ServerTx) {
	<-tx.Done()
	c.mu.Lock()
	ringing := c.state == CallRinging || c.state == CallAnswering
	c.mu.Unlock()
	if ringing {
		c.end(CauseTransport, 0, fmt.Errorf("%w: INVITE transaction ended: %v", ErrTransport, tx.Err()))
	}
}

// Answer answers an inbound ringing call: the media answers the INVITE's
// offer (or offers, if the INVITE had none) and the UA sends 200 OK,
// retransmitting it until the ACK arrives.
func (c *Call) Answer(ctx context.Context, media Media) error {
	c.mu.Lock()
	if c.dir != Inbound || c.state != CallRinging {
		c.mu.Unlock()
		return ErrCallState
	}
	early := c.early
	if early != nil && c.media != media {
		// The far end has set up its transport on the early answer; a
		// different answer in the 200 would not match it.
		c.mu.Unlock()
		return fmt.Errorf("%w: the call was answered early with other media", ErrCallState)
	}
	c.state, c.media = CallAnswering, media
	offer := c.offer
	c.mu.Unlock()

	sdp, err := early, error(nil)
	if sdp == nil {
		sdp, err = respond(ctx, media, offer)
	}
	c.mu.Lock()
	if c.state != CallAnswering {
		c.mu.Unlock()
		return ErrCanceled // CANCEL or transport loss won the race
	}
	if err != nil {
		c.mu.Unlock()
		c.ua.respond(c.inviteTx, c.invite, 488, "Not Acceptable Here", c.localTag)
		c.end(CauseFailed, 488, err)
		return fmt.Errorf("%w: %v", ErrMedia, err)
	}
	c.state = CallActive
	ok := &pendingOK{seq: c.invite.CSeq().SeqNo, offerless: len(offer) == 0, acked: make(chan struct{})}
	c.pendingOK = ok
	c.mu.Unlock()
	ok.res = c.ua.respondBody(c.inviteTx, c.invite, 200, "OK", c.localTag, sdp,
		c.ua.dialogContact(), gosip.NewHeader("Allow", allowed), gosip.NewHeader("Supported", "outbound"))
	go c.retransmitOK(ok, c.inviteTx.Connection())
	return nil
}

// EarlyMedia answers a ringing call's offer ahead of time: media answers
// the INVITE's offer and the UA sends 183 Session Progress with that SDP
// (RFC 3261 §13.3.1.1), so that the far end can set up its transport (ICE,
// DTLS) while the call still rings. A later Answer with the same media
// sends the 200 OK with the same SDP at once (RFC 6337 §3.1.1); Answer
// with other media is refused, as the far end's transport follows the
// early answer. It needs an
// INVITE with an offer (an offer in an unreliable 183 would never be
// answered) and may be used once per call.
func (c *Call) EarlyMedia(ctx context.Context, media Media) error {
	c.mu.Lock()
	if c.dir != Inbound || c.state != CallRinging || c.media != nil {
		c.mu.Unlock()
		return ErrCallState
	}
	offer := c.offer
	c.mu.Unlock()
	if len(offer) == 0 {
		return fmt.Errorf("%w: early media needs an INVITE with an offer", ErrCallState)
	}
	sdp, err := media.Answer(ctx, offer)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMedia, err)
	}
	c.mu.Lock()
	if c.state != CallRinging || c.media != nil {
		c.mu.Unlock()
		return ErrCallState // answered, rejected or canceled meanwhile
	}
	c.media, c.early = media, sdp
	c.mu.Unlock()
	c.ua.respondBody(c.inviteTx, c.invite, 183, "Session Progress", c.localTag, sdp, c.ua.dialogContact())
	return nil
}

// respond is the SDP our 2xx to an INVITE carries: the answer to the
// INVITE's offer, or our offer when it had none (RFC 3264, RFC 6337 §5.3).
func respond(ctx context.Context, media Media, offer []byte) ([]byte, error) {
	if len(offer) == 0 {
		return media.Offer(ctx)
	}
	return media.Answer(ctx, offer)
}

// Reject refuses an inbound ringing call with a final response (486 Busy
// Here, 603 Decline, 480 Temporarily Unavailable...).
func (c *Call) Reject(code int, reason string) error {
	if code < 300 || code > 699 {
		return fmt.Errorf("sip: reject needs a 3xx-6xx code, got %d", code)
	}
	c.mu.Lock()
	if c.dir != Inbound || (c.state != CallRinging && c.state != CallAnswering) {
		c.mu.Unlock()
		return ErrCallState
	}
	c.state = CallEnded // an Answer in progress sees this and gives up
	c.mu.Unlock()
	c.ua.respond(c.inviteTx, c.invite, code, reason, c.localTag)
	c.finish(CauseRejected, code, nil)
	return nil
}

// onCancel ends a ringing inbound call with 487 (RFC 3261 §9.2).
func (c *Call) onCancel() {
	c.mu.Lock()
	ringing := c.state == CallRinging || c.state == CallAnswering
	c.mu.Unlock()
	if !ringing {
		return
	}
	c.ua.respond(c.inviteTx, c.invite, 487, "Request Terminated", c.localTag)
	c.end(CauseCanceled, 487, nil)
}

// retransmitOK resends a 2xx to INVITE at T1, 2*T1 ... capped at T2 until
// its ACK arrives; after 64*T1 without one the call is torn down with BYE.
func (c *Call) retransmitOK(ok *pendingOK, cn gosip.Connection) {
	interval, deadline := T1, time.NewTimer(64*T1)
	defer deadline.Stop()
	for {
		t := time.NewTimer(interval)
		select {
		case <-ok.acked:
			t.Stop()
			return
		case <-c.done:
			t.Stop()
			return
		case <-deadline.C:
			t.Stop()
			c.ua.log.Warn("sip: no ACK for 200 OK", "call", c.callID)
			c.sendBye(context.Background())
			c.end(CauseNoAck, 0, errors.New("sip: 200 OK was never acknowledged"))
			return
		case <-t.C:
			if err := cn.WriteMsg(ok.res); err != nil {
				c.ua.log.Debug("sip: 2xx retransmission failed", "err", err)
			}
			interval = min(interval*2, 4*time.Second)
		}
	}
}

// onAck takes the ACK for our pending 2xx, if that is what req is; it
// reports whether it was.
func (c *Call) onAck(req *gosip.Request) bool {
	c.mu.Lock()
	ok := c.pendingOK
	if ok == nil || req.CSeq().SeqNo != ok.seq {
		c.mu.Unlock()
		return false
	}
	c.pendingOK = nil
	first := c.dir == Inbound && ok.seq == c.invite.CSeq().SeqNo // the ACK of the initial INVITE
	media := c.media
	c.mu.Unlock()
	close(ok.acked)
	if ok.offerless {
		ctx, cancel := context.WithTimeout(c.ua.ctx, mediaTimeout)
		defer cancel()
		sdp, _ := check.SDP(headerValue(req, "Content-Type"), req.Body())
		if err := media.SetAnswer(ctx, sdp, false); err != nil {
			c.ua.log.Warn("sip: answer in ACK refused", "call", c.callID, "err", err)
			c.sendBye(context.Background())
			c.end(CauseFailed, 0, fmt.Errorf("%w: %v", ErrMedia, err))
			return true
		}
	}
	if first {
		c.ua.emit(Event{Kind: EventCallAnswered, Call: c})
	}
	return true
}

// ---- in-dialog requests from the far end ----

// onRequest handles a request inside the call's dialog (RFC 3261 §12.2.2).
func (c *Call) onRequest(tx *gosip.ServerTx, req *gosip.Request) {
	ua := c.ua
	c.mu.Lock()
	seq := req.CSeq().SeqNo
	if c.remoteSeq != 0 && seq <= c.remoteSeq {
		c.mu.Unlock()
		ua.respond(tx, req, 500, "Server Internal Error (CSeq out of order)", c.localTag)
		return
	}
	c.remoteSeq = seq
	state := c.state
	c.mu.Unlock()

	switch req.Method {
	case gosip.BYE:
		ua.respond(tx, req, 200, "OK", c.localTag)
		if state == CallRinging || state == CallAnswering {
			ua.respond(c.inviteTx, c.invite, 487, "Request Terminated", c.localTag)
		}
		c.end(CauseRemoteHangup, 0, nil)
	case gosip.INVITE:
		c.onReinvite(tx, req)
	case gosip.INFO:
		c.onInfo(tx, req)
	case gosip.OPTIONS:
		ua.respond(tx, req, 200, "OK", c.localTag, gosip.NewHeader("Allow", allowed), gosip.NewHeader("Accept", "application/sdp"))
	default:
		ua.respond(tx, req, 405, "Method Not Allowed", c.localTag, gosip.NewHeader("Allow", allowed))
	}
}

// onReinvite answers a re-INVITE: new SDP (hold, resume, codec or address
// change) or none (RFC 6337 §5.3: we offer, the ACK answers).
func (c *Call) onReinvite(tx *gosip.ServerTx, req *gosip.Request) {
	ua := c.ua
	c.mu.Lock()
	switch {
	case c.state != CallActive:
		c.mu.Unlock()
		ua.respond(tx, req, 491, "Request Pending", c.localTag)
		return
	case c.reinviting:
		c.mu.Unlock()
		ua.respond(tx, req, 491, "Request Pending", c.localTag) // glare, RFC 3261 §14.2
		return
	case c.pendingOK != nil:
		c.mu.Unlock()
		ua.respond(tx, req, 500, "Server Internal Error", c.localTag, gosip.NewHeader("Retry-After", strconv.Itoa(int(randomBetween(0, 10*time.Second)/time.Second))))
		return
	}
	if ct := req.Contact(); ct != nil {
		c.remoteTarget = ct.Address // target refresh
	}
	media := c.media
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(ua.ctx, mediaTimeout)
	defer cancel()
	offer, _ := check.SDP(headerValue(req, "Content-Type"), req.Body())
	sdp, err := respond(ctx, media, offer)
	if err != nil {
		ua.log.Warn("sip: re-INVITE refused by media", "call", c.callID, "err", err)
		ua.respond(tx, req, 488, "Not Acceptable Here", c.localTag)
		return
	}
	ok := &pendingOK{seq: req.CSeq().SeqNo, offerless: len(offer) == 0, acked: make(chan struct{})}
	c.mu.Lock()
	c.pendingOK = ok
	var change EventKind
	if len(offer) > 0 {
		if held := sdpDirection(offer).OnHold(); held != c.remoteHold {
			c.remoteHold = held
			change = EventCallResumed
			if held {
				change = EventCallHeld
			}
		}
	}
	c.mu.Unlock()
	ok.res = ua.respondBody(tx, req, 200, "OK", c.localTag, sdp, ua.dialogContact(), gosip.NewHeader("Allow", allowed))
	go c.retransmitOK(ok, tx.Connection())
	if change != 0 {
		ua.emit(Event{Kind: change, Call: c})
	}
}

// onInfo takes DTMF in INFO (application/dtmf-relay or application/dtmf).
func (c *Call) onInfo(tx *gosip.ServerTx, req *gosip.Request) {
	ua := c.ua
	switch {
	case req.GetHeader("Info-Package") != nil:
		ua.respond(tx, req, 469, "Bad Info Package", c.localTag) // RFC 6086: we list no packages
	case len(req.Body()) == 0:
		ua.respond(tx, req, 200, "OK", c.localTag)
	default:
		digit, ok := dtmfDigit(headerValue(req, "Content-Type"), req.Body())
		if !ok {
			ua.respond(tx, req, 415, "Unsupported Media Type", c.localTag, gosip.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
			return
		}
		ua.respond(tx, req, 200, "OK", c.localTag)
		ua.emit(Event{Kind: EventCallDTMF, Call: c, Digit: digit})
	}
}

// ---- requests we send in the dialog ----

// inDialog builds the next request of the dialog (RFC 3261 §12.2.1.1).
func (c *Call) inDialog(method gosip.RequestMethod) *gosip.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.localSeq++
	return c.dialogRequest(method, c.localSeq, c.remoteTag)
}

// dialogRequest builds a request of the dialog with the given CSeq number;
// the caller holds c.mu.
func (c *Call) dialogRequest(method gosip.RequestMethod, seq uint32, remoteTag string) *gosip.Request {
	ruri, routes := c.remoteTarget, c.routes
	if len(routes) > 0 {
		if _, loose := routes[0].UriParams.Get("lr"); !loose {
			// strict routing: the first route becomes the Request-URI
			ruri = routes[0]
			routes = append(slices.Clone(routes[1:]), c.remoteTarget)
		}
	}
	req := gosip.NewRequest(method, *ruri.Clone())
	req.AppendHeader(&gosip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: c.ua.tp, Host: c.ua.host, Params: gosip.NewParams()})
	for _, r := range routes {
		req.AppendHeader(&gosip.RouteHeader{Address: *r.Clone()})
	}
	mf := gosip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.AppendHeader(&gosip.FromHeader{DisplayName: c.localName, Address: *c.localURI.Clone(), Params: params("tag", c.localTag)})
	to := &gosip.ToHeader{Address: *c.remoteURI.Clone(), Params: gosip.NewParams()}
	if remoteTag != "" {
		to.Params.Add("tag", remoteTag)
	}
	req.AppendHeader(to)
	cid := gosip.CallIDHeader(c.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&gosip.CSeqHeader{SeqNo: seq, MethodName: method})
	req.AppendHeader(gosip.NewHeader("User-Agent", c.ua.cfg.UserAgent))
	return req
}

// Hangup ends the call from our side: BYE when answered, CANCEL while an
// outgoing call is still unanswered, 603 Decline while an incoming one rings.
func (c *Call) Hangup(ctx context.Context) error {
	c.mu.Lock()
	state := c.state
	c.mu.Unlock()
	switch state {
	case CallEnded:
		return nil
	case CallRinging, CallAnswering:
		return c.Reject(603, "Decline")
	case CallDialing:
		c.mu.Lock()
		select {
		case <-c.hangupReq:
		default:
			close(c.hangupReq)
		}
		c.mu.Unlock()
		select {
		case <-c.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := c.sendBye(ctx)
	c.end(CauseLocalHangup, 0, nil)
	return err
}

// sendBye sends BYE and waits for its final response.
func (c *Call) sendBye(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.ua.cfg.TransactionTimeout)
	defer cancel()
	res, err := c.roundTrip(ctx, c.inDialog(gosip.BYE))
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		return &StatusError{Method: "BYE", Code: res.StatusCode, Reason: res.Reason}
	}
	return nil
}

// roundTrip runs an in-dialog request and keeps the dialog's CSeq in step
// with any retry the UA made after a challenge.
func (c *Call) roundTrip(ctx context.Context, req *gosip.Request) (*gosip.Response, error) {
	req, res, err := c.ua.roundTrip(ctx, req)
	c.followSeq(req)
	return res, err
}

// followSeq moves the local CSeq past a request we sent.
func (c *Call) followSeq(req *gosip.Request) {
	c.mu.Lock()
	c.localSeq = max(c.localSeq, req.CSeq().SeqNo)
	c.mu.Unlock()
}

// SendInfo sends INFO in the dialog, e.g. DTMF as application/dtmf-relay.
func (c *Call) SendInfo(ctx context.Context, contentType string, body []byte) error {
	if c.State() != CallActive {
		return ErrCallState
	}
	req := c.inDialog(gosip.INFO)
	req.AppendHeader(gosip.NewHeader("Content-Type", contentType))
	req.SetBody(body)
	res, err := c.roundTrip(ctx, req)
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		return &StatusError{Method: "INFO", Code: res.StatusCode, Reason: res.Reason}
	}
	return nil
}

// SendDTMF sends one digit as INFO application/dtmf-relay.
func (c *Call) SendDTMF(ctx context.Context, digit rune, duration time.Duration) error {
	if !containsRune("0123456789*#ABCD", digit) {
		return fmt.Errorf("sip: %q is not a DTMF digit", digit)
	}
	body := fmt.Sprintf("Signal=%c\r\nDuration=%d\r\n", digit, duration.Milliseconds())
	return c.SendInfo(ctx, "application/dtmf-relay", []byte(body))
}

func containsRune(s string, r rune) bool {
	for _, x := range s {
		if x == r {
			return true
		}
	}
	return false
}

// Renegotiate sends a re-INVITE with a fresh offer from the call's media
// (hold, resume, ICE restart after a network change). On 491 (glare) it
// retries after the RFC 3261 §14.1 random wait. A failed re-INVITE leaves
// the call as it was, except 481 and 408, which end it (RFC 3261 §12.2.1.2).
func (c *Call) Renegotiate(ctx context.Context) error {
	c.mu.Lock()
	if c.state != CallActive || c.reinviting {
		c.mu.Unlock()
		return ErrCallState
	}
	c.reinviting = true
	media := c.media
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.reinviting = false
		c.mu.Unlock()
	}()
	for attempt := 0; ; attempt++ {
		offer, err := media.Offer(ctx)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMedia, err)
		}
		req := c.inDialog(gosip.INVITE)
		req.AppendHeader(c.ua.dialogContact())
		req.AppendHeader(gosip.NewHeader("Allow", allowed))
		req.AppendHeader(gosip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(offer)
		req, res, err := c.ua.roundTrip(ctx, req)
		c.followSeq(req)
		if err != nil {
			return err
		}
		switch {
		case res.IsSuccess():
			if tag, _ := res.To().Params.Get("tag"); tag != "" {
				c.mu.Lock()
				if ct := res.Contact(); ct != nil {
					c.remoteTarget = ct.Address
				}
				c.mu.Unlock()
			}
			c.sendAck(req, res)
			sdp, _ := check.SDP(headerValue(res, "Content-Type"), res.Body())
			if err := media.SetAnswer(ctx, sdp, false); err != nil {
				return fmt.Errorf("%w: %v", ErrMedia, err)
			}
			return nil
		case res.StatusCode == 491 && attempt < 2:
			if !sleepCtx(ctx, randomBetween(2100*time.Millisecond, 4*time.Second)) {
				return ctx.Err()
			}
			continue
		case res.StatusCode == 481 || res.StatusCode == 408:
			c.end(CauseFailed, res.StatusCode, nil)
		}
		return &StatusError{Method: "INVITE", Code: res.StatusCode, Reason: res.Reason}
	}
}

// sendAck acknowledges a 2xx to INVITE, end to end outside the
// transaction (RFC 3261 §13.2.2.4), and remembers the ACK for
// retransmitted 2xx.
func (c *Call) sendAck(invite *gosip.Request, res *gosip.Response) {
	c.mu.Lock()
	tag, _ := res.To().Params.Get("tag")
	ack := c.dialogRequest(gosip.ACK, invite.CSeq().SeqNo, tag)
	c.ack = ack
	c.mu.Unlock()
	for _, name := range []string{"Authorization", "Proxy-Authorization"} {
		for _, h := range invite.GetHeaders(name) {
			ack.AppendHeader(gosip.NewHeader(name, h.Value()))
		}
	}
	c.ua.stampVia(ack)
	if f := c.ua.currentFlow(); f != nil {
		if err := f.WriteMsg(ack); err != nil {
			c.ua.log.Debug("sip: ACK failed", "err", err)
		}
	}
}
