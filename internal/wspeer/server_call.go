package wspeer

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Answer says how the peer answers INVITEs from the UA to one user.
type Answer struct {
	// Provisional lists provisional codes sent in order after the
	// immediate 100 Trying (e.g. []int{180}).
	Provisional []int
	// EarlySDP, if set, is sent as the body of a 183 Session Progress: on
	// the 183 in Provisional if there is one, else on an extra 183 sent
	// after the others.
	EarlySDP string
	// Code is the final response code, e.g. 200 or 486. Default 200.
	Code int
	// SDP is the body of a 2xx final response (and of 200s to re-INVITEs
	// and UPDATEs with an offer from the UA).
	SDP string
	// Delay is waited before the final response; a CANCEL from the UA
	// during the wait ends the call with 487.
	Delay time.Duration
	// RecordRoute makes the peer act as a record-routing proxy in front of
	// the far end: its 18x and 2xx responses carry a Record-Route for the
	// peer, so the UA must send ACK, BYE and other in-dialog requests with
	// a Route header.
	RecordRoute bool
}

// OnInvite sets how INVITEs from the UA to user are answered. user "" sets
// the answer for every user without an answer of its own. An INVITE to a
// user with no answer gets 480 if the user is registered (the peer does not
// proxy between UAs) and 404 otherwise.
func (p *Peer) OnInvite(user string, a Answer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a.Provisional = append([]int(nil), a.Provisional...)
	p.answers[user] = a
}

// ServerCall is an INVITE the UA sent to the peer (the peer is the UAS).
// The dialog methods (Bye, Reinvite, Info, Update, Options, SendRequest,
// WaitBye, WaitRequest, Received, CallID) are promoted from the dialog.
type ServerCall struct {
	*dialog
	user   string
	invite *sip.Request // copy as received

	// guarded by p.mu
	taken     bool // returned by WaitCall
	outcome   bool // final response sent, cancelled, or transaction gone
	cancelled bool
	finalCode int
}

// WaitCall waits for an INVITE from the UA to user ("" for any user) and
// returns the oldest such call not yet returned by WaitCall. It returns as
// soon as the INVITE arrived, before the configured answer completes.
func (p *Peer) WaitCall(ctx context.Context, user string) (*ServerCall, error) {
	var got *ServerCall
	err := p.waitUntil(ctx, func(time.Time) (bool, time.Time) {
		for _, sc := range p.serverCalls {
			if !sc.taken && (user == "" || sc.user == user) {
				sc.taken = true
				got = sc
				return true, time.Time{}
			}
		}
		return false, time.Time{}
	})
	return got, err
}

// Request returns the INVITE as received.
func (s *ServerCall) Request() *sip.Request { return s.invite }

// User returns the called user (the Request-URI user).
func (s *ServerCall) User() string { return s.user }

// FinalCode returns the final status code the peer sent, or 0 if none was
// sent (yet, or because the call was cancelled).
func (s *ServerCall) FinalCode() int {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	return s.finalCode
}

// WaitAck waits for the UA's ACK to the final response.
func (s *ServerCall) WaitAck(ctx context.Context) error {
	seq := s.invite.CSeq().SeqNo
	return s.p.waitUntil(ctx, func(time.Time) (bool, time.Time) {
		for _, r := range s.received {
			if r.Method == sip.ACK && r.CSeq().SeqNo == seq {
				return true, time.Time{}
			}
		}
		return false, time.Time{}
	})
}

// WasCancelled waits until the INVITE transaction's outcome is known (final
// response sent, or CANCEL received) and reports whether the UA cancelled.
func (s *ServerCall) WasCancelled(ctx context.Context) (bool, error) {
	var cancelled bool
	err := s.p.waitUntil(ctx, func(time.Time) (bool, time.Time) {
		cancelled = s.cancelled
		return s.outcome, time.Time{}
	})
	return cancelled, err
}

func (p *Peer) handleInvite(req *sip.Request, tx sip.ServerTransaction) {
	if !p.authorize(req, tx, p.cfg.ProxyAuth) {
		return
	}
	from, to, cid, cseq, contact := req.From(), req.To(), req.CallID(), req.CSeq(), req.Contact()
	if from == nil || to == nil || cid == nil || cseq == nil || contact == nil {
		p.respond(tx, req, 400, nil)
		return
	}
	user := req.Recipient.User
	p.mu.Lock()
	a, ok := p.answers[user]
	if !ok {
		a, ok = p.answers[""]
	}
	registered := p.latestLocked(user) != nil
	p.mu.Unlock()
	if !ok {
		code := 404
		if registered {
			code = 480
		}
		p.respond(tx, req, code, nil)
		return
	}

	fromTag, _ := from.Params.Get("tag")
	instance, _ := contact.Params.Get("+sip.instance")
	d := &dialog{
		p:            p,
		callID:       cid.Value(),
		localTag:     randHex(8),
		remoteTag:    fromTag,
		local:        *to.Address.Clone(),
		remote:       *from.Address.Clone(),
		localSeq:     randSeq(),
		remoteSeq:    cseq.SeqNo,
		remoteSet:    true,
		remoteTarget: *contact.Address.Clone(),
		routeSet:     p.routeSetFrom(req.GetHeaders("Record-Route")),
		flow:         req.Source(),
		uaUser:       from.Address.User,
		uaInstance:   strings.Trim(instance, `"`),
		localContact: p.contactURI(user),
		localSDP:     a.SDP,
		acks:         make(map[uint32]*sip.Request),
	}
	sc := &ServerCall{dialog: d, user: user}
	p.mu.Lock()
	sc.invite = p.seen[req]
	// sipgo answers a CANCEL itself with a 487 built from the transaction's
	// request; tagging that request keeps the 487's To tag equal to ours.
	// (Under p.mu, like every other access of the peer to a received
	// request after the handler started.)
	to.Params.Add("tag", d.localTag)
	p.dialogs[d.key()] = d
	p.serverCalls = append(p.serverCalls, sc)
	p.notifyLocked()
	p.mu.Unlock()

	cancelled := make(chan struct{})
	var once sync.Once
	markCancelled := func(*sip.Request) {
		once.Do(func() { close(cancelled) })
		p.mu.Lock()
		sc.cancelled, sc.outcome, d.terminated = true, true, true
		p.notifyLocked()
		p.mu.Unlock()
	}
	giveUp := func() {
		p.mu.Lock()
		sc.outcome, d.terminated = true, true
		p.notifyLocked()
		p.mu.Unlock()
	}
	if !tx.OnCancel(markCancelled) {
		if errors.Is(tx.Err(), sip.ErrTransactionCanceled) {
			markCancelled(nil)
		} else {
			giveUp()
		}
		return
	}

	p.respond(tx, req, 100, nil)
	provisional := func(code int, sdp string) {
		var body []byte
		if sdp != "" {
			body = []byte(sdp)
		}
		res := p.newResponse(req, code, body)
		res.AppendHeader(&sip.ContactHeader{Address: *d.localContact.Clone()})
		if sdp != "" {
			res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		}
		if a.RecordRoute {
			res.PrependHeader(p.recordRouteHeader())
		}
		p.send(tx, res)
	}
	early := a.EarlySDP
	for _, code := range a.Provisional {
		if code <= 100 || code >= 200 {
			continue
		}
		sdp := ""
		if code == 183 {
			sdp, early = early, ""
		}
		provisional(code, sdp)
	}
	if early != "" {
		provisional(183, early)
	}

	if a.Delay > 0 {
		t := time.NewTimer(a.Delay)
		select {
		case <-t.C:
		case <-cancelled:
			t.Stop()
			return
		case <-tx.Done():
			t.Stop()
			giveUp()
			return
		case <-p.ctx.Done():
			t.Stop()
			giveUp()
			return
		}
	}
	select {
	case <-cancelled:
		return
	default:
	}

	code := a.Code
	if code == 0 {
		code = 200
	}
	var res *sip.Response
	if code >= 200 && code < 300 {
		var body []byte
		if a.SDP != "" {
			body = []byte(a.SDP)
		}
		res = p.newResponse(req, code, body)
		res.AppendHeader(&sip.ContactHeader{Address: *d.localContact.Clone()})
		res.AppendHeader(sip.NewHeader("Allow", allowMethods))
		if a.SDP != "" {
			res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		}
		if a.RecordRoute {
			res.PrependHeader(p.recordRouteHeader())
		}
		p.mu.Lock()
		d.confirmed = true // before sending: the ACK may come at once
		p.mu.Unlock()
	} else {
		res = p.newResponse(req, code, nil)
	}
	err := tx.Respond(res)
	p.mu.Lock()
	if !sc.cancelled {
		sc.outcome = true
		if err == nil {
			sc.finalCode = code
		}
		if err != nil || code >= 300 {
			d.confirmed, d.terminated = false, true
		}
	}
	p.notifyLocked()
	p.mu.Unlock()
}
