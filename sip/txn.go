package sip

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	gosip "github.com/emiago/sipgo/sip"

	"github.com/agentbar/agentbar/sip/digest"
)

// conn is what the UA writes through: a flow, or a recorder in tests.
type conn interface {
	gosip.Connection
	writeRaw([]byte) error
}

// branchCookie starts every RFC 3261 branch.
const branchCookie = "z9hG4bK"

// clientKey matches a response to the client transaction that sent the
// request: top Via branch plus CSeq method (RFC 3261 §17.1.3).
func clientKey(branch, method string) string { return branch + " " + method }

// serverKey matches a request to a server transaction (RFC 3261 §17.2.3):
// branch, sent-by and method, with ACK matching the INVITE. For RFC 2543
// requests without the magic cookie it falls back to the dialog identifiers.
func serverKey(req *gosip.Request) string {
	method := string(req.Method)
	if method == "ACK" {
		method = "INVITE"
	}
	via := req.Via()
	branch, _ := via.Params.Get("branch")
	if strings.HasPrefix(branch, branchCookie) && len(branch) > len(branchCookie) {
		return branch + " " + via.SentBy() + " " + method
	}
	from, _ := req.From().Params.Get("tag")
	return "2543 " + req.CallID().Value() + " " + from + " " + strconv.Itoa(int(req.CSeq().SeqNo)) + " " + method + " " + via.SentBy()
}

// pending is one client transaction and what ends it.
type pending struct {
	tx   *gosip.ClientTx
	f    *flow
	stop *time.Timer
	dead chan struct{} // closed when our own Timer B/F fires
}

// send starts a client transaction for req on the current flow, with a fresh
// Via unless req already has a branch. The caller reads p.tx.Responses() and must call ua.finish(p).
func (ua *UA) send(req *gosip.Request) (*pending, error) {
	f := ua.currentFlow()
	if f == nil {
		return nil, fmt.Errorf("%w: not connected", ErrTransport)
	}
	branch, ok := req.Via().Params.Get("branch")
	if !ok {
		branch = ua.stampVia(req)
	}
	key := clientKey(branch, string(req.CSeq().MethodName))
	tx := gosip.NewClientTx(key, req, f, ua.log)
	p := &pending{tx: tx, f: f, dead: make(chan struct{})}
	ua.mu.Lock()
	ua.clientTxs[key] = tx
	ua.mu.Unlock()
	if err := tx.Init(); err != nil {
		ua.finish(p)
		return nil, fmt.Errorf("%w: %v", ErrTransport, err)
	}
	p.stop = time.AfterFunc(ua.cfg.TransactionTimeout, func() { close(p.dead) })
	return p, nil
}

// stampVia gives req our single Via with a new branch and returns the branch.
// A request that already carries a branch (CANCEL copies the INVITE's) keeps it.
func (ua *UA) stampVia(req *gosip.Request) string {
	branch := branchCookie + randomToken(16)
	for req.RemoveHeader("Via") {
	}
	req.PrependHeader(&gosip.ViaHeader{
		ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: ua.tp,
		Host: ua.host, Params: params("branch", branch),
	})
	req.SetTransport(ua.tp)
	return branch
}

// finish forgets a client transaction.
func (ua *UA) finish(p *pending) {
	if p.stop != nil {
		p.stop.Stop()
	}
	ua.mu.Lock()
	delete(ua.clientTxs, p.tx.Key())
	ua.mu.Unlock()
	p.tx.Terminate()
}

// next waits for the next response of a transaction, or for what ends it:
// the context, the flow, our timer, or the transaction itself.
func (ua *UA) next(ctx context.Context, p *pending) (*gosip.Response, error) {
	select {
	case r := <-p.tx.Responses():
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.f.done:
		return nil, fmt.Errorf("%w: flow lost with %s pending", ErrTransport, p.tx.Origin().Method)
	case <-p.dead:
		return nil, fmt.Errorf("%w: %s got no final response in %s", ErrTimeout, p.tx.Origin().Method, ua.cfg.TransactionTimeout)
	case <-p.tx.Done():
		if err := p.tx.Err(); errors.Is(err, gosip.ErrTransactionTimeout) {
			return nil, fmt.Errorf("%w: %v", ErrTimeout, err)
		}
		return nil, fmt.Errorf("%w: %s transaction ended: %v", ErrTransport, p.tx.Origin().Method, p.tx.Err())
	}
}

// roundTrip sends a request and returns its final response, answering one
// digest challenge per realm, and the request as last sent (its CSeq and
// credentials, which an ACK and the dialog's CSeq must follow). A final
// response >= 300 is returned as the response, not as an error.
func (ua *UA) roundTrip(ctx context.Context, req *gosip.Request) (*gosip.Request, *gosip.Response, error) {
	authTried := map[string]bool{}
	for {
		p, err := ua.send(req)
		if err != nil {
			return req, nil, err
		}
		var res *gosip.Response
		for res == nil || res.IsProvisional() {
			if res, err = ua.next(ctx, p); err != nil {
				ua.finish(p)
				return req, nil, err
			}
		}
		ua.finish(p)
		if (res.StatusCode == 401 || res.StatusCode == 407) && ua.authorize(ctx, req, res, authTried) == nil {
			req = nextAttempt(req)
			continue
		}
		return req, res, nil
	}
}

// nextAttempt is req again with the next CSeq and no branch, for a retry
// after a challenge: a new transaction (RFC 3261 §8.1.3.5).
func nextAttempt(req *gosip.Request) *gosip.Request {
	n := req.Clone()
	n.CSeq().SeqNo++
	n.Via().Params.Remove("branch")
	return n
}

// authorize adds credentials answering the challenges of res to req. It
// refuses to answer the same realm twice unless the server said the nonce
// was stale, so a wrong password ends in the 401/407 instead of a loop.
func (ua *UA) authorize(ctx context.Context, req *gosip.Request, res *gosip.Response, tried map[string]bool) error {
	challengeHdr, credHdr := "WWW-Authenticate", "Authorization"
	if res.StatusCode == 407 {
		challengeHdr, credHdr = "Proxy-Authenticate", "Proxy-Authorization"
	}
	user, pass := ua.cfg.AuthUser, ua.cfg.Password
	if ua.cfg.Credentials != nil {
		var err error
		if user, pass, err = ua.cfg.Credentials(ctx); err != nil {
			return fmt.Errorf("%w: credentials: %v", ErrAuth, err)
		}
	}
	answered := 0
	for _, h := range res.GetHeaders(challengeHdr) {
		ch, err := digest.ParseChallenge(h.Value())
		if err != nil {
			ua.log.Debug("sip: unusable challenge", "err", err)
			continue
		}
		if tried[ch.Realm] && !ch.Stale {
			continue
		}
		tried[ch.Realm] = true
		ua.mu.Lock()
		ua.nonces[ch.Nonce]++
		nc := ua.nonces[ch.Nonce]
		ua.mu.Unlock()
		cr, err := digest.Respond(ch, string(req.Method), req.Recipient.String(), user, pass, nc, "", req.Body())
		if err != nil {
			return fmt.Errorf("%w: %v", ErrAuth, err)
		}
		removeCredentials(req, credHdr, ch.Realm)
		req.AppendHeader(gosip.NewHeader(credHdr, cr.String()))
		answered++
	}
	if answered == 0 {
		return ErrAuth
	}
	return nil
}

// removeCredentials drops earlier credentials for realm so a retry carries one set.
func removeCredentials(req *gosip.Request, name, realm string) {
	var keep []gosip.Header
	for _, h := range req.GetHeaders(name) {
		if cr, err := digest.ParseCredentials(h.Value()); err == nil && cr.Realm != realm {
			keep = append(keep, gosip.NewHeader(name, h.Value()))
		}
	}
	for req.RemoveHeader(name) {
	}
	for _, h := range keep {
		req.AppendHeader(h)
	}
}

// newRequest builds an out-of-dialog request from our address of record.
func (ua *UA) newRequest(method gosip.RequestMethod, ruri gosip.Uri, to gosip.Uri, callID string, cseq uint32) *gosip.Request {
	req := gosip.NewRequest(method, ruri)
	req.AppendHeader(&gosip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: ua.tp, Host: ua.host, Params: gosip.NewParams()})
	mf := gosip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &gosip.FromHeader{DisplayName: ua.cfg.DisplayName, Address: ua.aor, Params: params("tag", randomToken(10))}
	req.AppendHeader(from)
	req.AppendHeader(&gosip.ToHeader{Address: to, Params: gosip.NewParams()})
	cid := gosip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&gosip.CSeqHeader{SeqNo: cseq, MethodName: method})
	req.AppendHeader(gosip.NewHeader("User-Agent", ua.cfg.UserAgent))
	return req
}

// contactURI is our contact: the .invalid host with transport=ws (RFC 7118 §5.2).
func (ua *UA) contactURI() gosip.Uri {
	return gosip.Uri{Scheme: "sip", User: ua.cfg.User, Host: ua.host, UriParams: params("transport", strings.ToLower(ua.tp))}
}

// dialogContact is the Contact for dialog-forming requests and responses: the
// registrar's temporary GRUU if it gave one, else our contact with "ob"
// (RFC 5626 §5.4) when the registrar supports outbound.
func (ua *UA) dialogContact() *gosip.ContactHeader {
	ua.mu.Lock()
	gruu, ob := ua.reg.tempGRUU, ua.reg.outbound
	ua.mu.Unlock()
	if gruu != "" {
		var u gosip.Uri
		if gosip.ParseUri(gruu, &u) == nil {
			return &gosip.ContactHeader{Address: u}
		}
	}
	u := ua.contactURI()
	if ob {
		u.UriParams.Add("ob", "")
	}
	return &gosip.ContactHeader{Address: u}
}

// allowed lists the methods the UA takes, for Allow headers.
const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO"
