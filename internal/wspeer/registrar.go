package wspeer

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// defaultExpires is granted when a REGISTER asks for no particular expiry.
const defaultExpires = 3600

// Registration is a snapshot of one binding.
type Registration struct {
	// User is the address-of-record user (the To URI user of the REGISTER).
	User string
	// Contact is the Contact header value as registered, without the
	// expires parameter, e.g.
	// <sip:1001@abcd.invalid;transport=ws>;+sip.instance="<urn:uuid:...>";reg-id=1
	Contact string
	// ContactURI is the contact URI.
	ContactURI sip.Uri
	// Expires is the expiry the peer granted, in seconds.
	Expires int
	// ExpiresAt is when the binding lapses unless refreshed.
	ExpiresAt time.Time
	// Instance is the +sip.instance value with its quotes removed
	// (e.g. "<urn:uuid:...>"), or "".
	Instance string
	// RegID is the reg-id parameter (RFC 5626), or 0 if absent.
	RegID int
	// Supported is the Supported header of the REGISTER ("" if none;
	// several headers are joined with ", ").
	Supported string
	// CallID and CSeq are those of the REGISTER that last refreshed the
	// binding.
	CallID string
	CSeq   uint32
	// Source is the remote address of the WebSocket connection (flow) the
	// binding was registered on; requests to the UA are sent over it.
	Source string
	// Connected reports whether that connection is still open. It is only
	// ever false with Config.KeepBindingsOnFlowClose.
	Connected bool
	// Request is a copy of the REGISTER that last refreshed the binding.
	Request *sip.Request
}

// binding is the registrar's record; guarded by Peer.mu.
type binding struct {
	user      string
	key       string // instance+reg-id, instance, or contact URI
	contact   *sip.ContactHeader
	expires   int
	expiresAt time.Time
	instance  string
	regID     int
	supported string
	callID    string
	cseq      uint32
	source    string
	updated   time.Time
	request   *sip.Request
}

func (p *Peer) snapshotLocked(b *binding) Registration {
	c := b.contact.Clone()
	c.Params.Remove("expires")
	return Registration{
		User:       b.user,
		Contact:    c.Value(),
		ContactURI: *c.Address.Clone(),
		Expires:    b.expires,
		ExpiresAt:  b.expiresAt,
		Instance:   b.instance,
		RegID:      b.regID,
		Supported:  b.supported,
		CallID:     b.callID,
		CSeq:       b.cseq,
		Source:     b.source,
		Connected:  p.flowAliveLocked(b.source),
		Request:    b.request,
	}
}

// pruneLocked drops expired bindings.
func (p *Peer) pruneLocked(now time.Time) {
	kept := p.bindings[:0]
	for _, b := range p.bindings {
		if now.Before(b.expiresAt) {
			kept = append(kept, b)
		}
	}
	clear(p.bindings[len(kept):])
	p.bindings = kept
}

// nextExpiryLocked returns the earliest expiry of user's bindings (all
// users if user is ""), or the zero time.
func (p *Peer) nextExpiryLocked(user string) time.Time {
	var t time.Time
	for _, b := range p.bindings {
		if (user == "" || b.user == user) && (t.IsZero() || b.expiresAt.Before(t)) {
			t = b.expiresAt
		}
	}
	return t
}

// Registrations returns the current (unexpired) bindings, oldest first.
func (p *Peer) Registrations() []Registration {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pruneLocked(time.Now())
	out := make([]Registration, 0, len(p.bindings))
	for _, b := range p.bindings {
		out = append(out, p.snapshotLocked(b))
	}
	return out
}

// latestLocked returns user's most recently refreshed binding whose flow is
// open, or nil.
func (p *Peer) latestLocked(user string) *binding {
	p.pruneLocked(time.Now())
	var best *binding
	for _, b := range p.bindings {
		if b.user == user && p.flowAliveLocked(b.source) && (best == nil || !b.updated.Before(best.updated)) {
			best = b
		}
	}
	return best
}

// WaitRegistered waits until user has a binding on an open connection and
// returns the most recently refreshed one.
func (p *Peer) WaitRegistered(ctx context.Context, user string) (Registration, error) {
	var reg Registration
	err := p.waitUntil(ctx, func(time.Time) (bool, time.Time) {
		if b := p.latestLocked(user); b != nil {
			reg = p.snapshotLocked(b)
			return true, time.Time{}
		}
		return false, time.Time{}
	})
	return reg, err
}

// WaitUnregistered waits until user has no binding left: unregistered,
// expired, or (unless Config.KeepBindingsOnFlowClose) its connection closed.
func (p *Peer) WaitUnregistered(ctx context.Context, user string) error {
	return p.waitUntil(ctx, func(now time.Time) (bool, time.Time) {
		p.pruneLocked(now)
		for _, b := range p.bindings {
			if b.user == user {
				return false, p.nextExpiryLocked(user)
			}
		}
		return true, time.Time{}
	})
}

func (p *Peer) handleRegister(req *sip.Request, tx sip.ServerTransaction) {
	if !p.authorize(req, tx, false) {
		return
	}
	to := req.To()
	if to == nil || req.CallID() == nil || req.CSeq() == nil {
		p.respond(tx, req, 400, nil)
		return
	}
	user := to.Address.User
	headerExpires := -1
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.Atoi(strings.TrimSpace(h.Value()))
		if err != nil || n < 0 {
			p.respond(tx, req, 400, nil)
			return
		}
		headerExpires = n
	}
	var contacts []*sip.ContactHeader
	for _, h := range req.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			p.respond(tx, req, 400, nil)
			return
		}
		contacts = append(contacts, c)
	}
	var supported []string
	for _, h := range req.GetHeaders("Supported") {
		supported = append(supported, h.Value())
	}
	outbound := false

	now := time.Now()
	p.mu.Lock()
	p.pruneLocked(now)
	for _, c := range contacts {
		if c.Address.Wildcard {
			// RFC 3261 10.3 step 6: "*" needs Expires: 0 and no other contact.
			if headerExpires != 0 || len(contacts) != 1 {
				p.mu.Unlock()
				p.respond(tx, req, 400, nil)
				return
			}
			p.removeLocked(func(b *binding) bool { return b.user == user })
			continue
		}
		exp := headerExpires
		if v, ok := c.Params.Get("expires"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				p.mu.Unlock()
				p.respond(tx, req, 400, nil)
				return
			}
			exp = n
		}
		if exp < 0 {
			exp = defaultExpires
		}
		b := &binding{
			user:      user,
			contact:   c.Clone(),
			expires:   exp,
			expiresAt: now.Add(time.Duration(exp) * time.Second),
			supported: strings.Join(supported, ", "),
			callID:    req.CallID().Value(),
			cseq:      req.CSeq().SeqNo,
			source:    req.Source(),
			updated:   now,
			request:   copyRequest(req),
		}
		b.contact.Params.Remove("expires")
		if v, ok := c.Params.Get("+sip.instance"); ok {
			b.instance = strings.Trim(v, `"`)
		}
		if v, ok := c.Params.Get("reg-id"); ok {
			b.regID, _ = strconv.Atoi(v)
		}
		switch {
		case b.instance != "" && b.regID > 0:
			b.key = "instance:" + b.instance + ";reg-id=" + strconv.Itoa(b.regID)
			if hasOptionTag(supported, "outbound") {
				outbound = true
			}
		case b.instance != "":
			b.key = "instance:" + b.instance
		default:
			b.key = "uri:" + c.Address.String()
		}
		p.removeLocked(func(old *binding) bool { return old.user == user && old.key == b.key })
		if exp > 0 {
			p.bindings = append(p.bindings, b)
		}
	}

	res := p.newResponse(req, 200, nil)
	for _, b := range p.bindings {
		if b.user != user {
			continue
		}
		c := b.contact.Clone()
		left := int(time.Until(b.expiresAt).Round(time.Second) / time.Second)
		c.Params.Add("expires", strconv.Itoa(max(left, 0)))
		res.AppendHeader(c)
	}
	p.notifyLocked()
	p.mu.Unlock()

	if outbound {
		res.AppendHeader(sip.NewHeader("Require", "outbound"))
		if p.cfg.FlowTimer > 0 {
			res.AppendHeader(sip.NewHeader("Flow-Timer", strconv.Itoa(p.cfg.FlowTimer)))
		}
	}
	p.send(tx, res)
}

func (p *Peer) removeLocked(match func(*binding) bool) {
	kept := p.bindings[:0]
	for _, b := range p.bindings {
		if !match(b) {
			kept = append(kept, b)
		}
	}
	clear(p.bindings[len(kept):])
	p.bindings = kept
}

func hasOptionTag(values []string, tag string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), tag) {
				return true
			}
		}
	}
	return false
}
