package sip

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	gosip "github.com/emiago/sipgo/sip"

	"github.com/agentbar/agentbar/sip/check"
)

// registration is the state of our binding at the registrar (RFC 3261 §10,
// RFC 5626 §4.2). One Call-ID for the UA's life; CSeq grows across refreshes.
type registration struct {
	callID     string
	cseq       uint32
	registered bool
	expires    time.Duration // granted
	outbound   bool          // registrar echoed Require: outbound: pongs are due
	flowTimer  time.Duration // Flow-Timer from the registrar, 0 if none
	tempGRUU   string
	serviceRte []gosip.Uri // Service-Route (RFC 3608), preloaded on our requests
	first      chan error  // outcome of the first attempt, for Start
}

// failFirst reports err to Start if no registration outcome was reported yet.
func (r *registration) failFirst(mu *sync.Mutex, err error) {
	mu.Lock()
	first := r.first
	r.first = nil
	mu.Unlock()
	if first != nil {
		first <- err
	}
}

// serveRegistration registers on a new flow and refreshes the binding until
// the flow ends. Failures are retried with backoff.
func (ua *UA) serveRegistration(f *flow) {
	backoff := ua.cfg.ReconnectMin
	for {
		ctx, cancel := context.WithCancel(ua.ctx)
		go func() {
			select {
			case <-f.done:
			case <-ctx.Done():
			}
			cancel()
		}()
		granted, err := ua.register(ctx, ua.cfg.Expires)
		cancel()
		var wait time.Duration
		if err != nil {
			if f.isDone() || ua.ctx.Err() != nil {
				return
			}
			ua.log.Warn("sip: registration failed", "err", err)
			ua.emit(Event{Kind: EventRegistrationFailed, Err: err})
			ua.reg.failFirst(&ua.mu, err)
			wait = jitter(backoff)
			backoff = min(backoff*2, ua.cfg.ReconnectMax)
		} else {
			backoff = ua.cfg.ReconnectMin
			ua.emit(Event{Kind: EventRegistered, Expires: granted})
			ua.reg.failFirst(&ua.mu, nil)
			wait = refreshAfter(granted)
		}
		select {
		case <-f.done:
			return
		case <-ua.ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// refreshAfter is when to refresh a binding granted for d: well before it
// lapses, leaving room for a challenge round trip and a slow network.
func refreshAfter(d time.Duration) time.Duration {
	if d > 2*time.Minute {
		return d - time.Minute
	}
	return d / 2
}

// register sends REGISTER for our contact with the given lifetime and
// returns the lifetime the registrar granted (RFC 3261 §10.2.4).
func (ua *UA) register(ctx context.Context, expires time.Duration) (time.Duration, error) {
	for attempt := 0; attempt < 3; attempt++ {
		req := ua.registerRequest(expires)
		last, res, err := ua.roundTrip(ctx, req)
		if err != nil {
			return 0, err
		}
		ua.mu.Lock()
		ua.reg.cseq = max(ua.reg.cseq, last.CSeq().SeqNo)
		ua.mu.Unlock()
		switch {
		case res.StatusCode == 423:
			// Interval Too Brief: ask again with the registrar's minimum.
			min, err := strconv.Atoi(headerValue(res, "Min-Expires"))
			if err != nil || min <= 0 {
				return 0, &StatusError{Method: "REGISTER", Code: res.StatusCode, Reason: res.Reason}
			}
			expires = time.Duration(min) * time.Second
			continue
		case res.StatusCode >= 300:
			return 0, &StatusError{Method: "REGISTER", Code: res.StatusCode, Reason: res.Reason}
		}
		return ua.registered(res, expires)
	}
	return 0, errors.New("sip: registrar kept answering 423 Interval Too Brief")
}

// registerRequest builds the next REGISTER of our registration.
func (ua *UA) registerRequest(expires time.Duration) *gosip.Request {
	ua.mu.Lock()
	if ua.reg.callID == "" {
		ua.reg.callID = uuid()
	}
	ua.reg.cseq++
	callID, cseq := ua.reg.callID, ua.reg.cseq
	ua.mu.Unlock()
	ruri := gosip.Uri{Scheme: "sip", Host: ua.aor.Host, Port: ua.aor.Port}
	req := ua.newRequest(gosip.REGISTER, ruri, ua.aor, callID, cseq)
	secs := int(expires / time.Second)
	contact := &gosip.ContactHeader{Address: ua.contactURI(), Params: gosip.NewParams()}
	contact.Params.Add("+sip.instance", `"<`+ua.cfg.InstanceID+`>"`)
	contact.Params.Add("reg-id", "1")
	contact.Params.Add("expires", strconv.Itoa(secs))
	req.AppendHeader(contact)
	exp := gosip.ExpiresHeader(secs)
	req.AppendHeader(&exp)
	req.AppendHeader(gosip.NewHeader("Supported", "path, outbound, gruu"))
	req.AppendHeader(gosip.NewHeader("Allow", allowed))
	return req
}

// registered records a 2xx to REGISTER: the lifetime granted to our contact,
// outbound support, Flow-Timer, GRUU and Service-Route.
func (ua *UA) registered(res *gosip.Response, asked time.Duration) (time.Duration, error) {
	granted := time.Duration(-1)
	var gruu string
	for _, h := range res.GetHeaders("Contact") {
		c, ok := h.(*gosip.ContactHeader)
		if !ok || !ua.isOurContact(c) {
			continue
		}
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				granted = time.Duration(n) * time.Second
			}
		}
		if v, ok := c.Params.Get("temp-gruu"); ok {
			gruu = strings.Trim(v, `"`)
		}
	}
	if granted < 0 {
		if n, err := strconv.Atoi(headerValue(res, "Expires")); err == nil {
			granted = time.Duration(n) * time.Second
		} else {
			granted = asked
		}
	}
	if asked > 0 && granted <= 0 {
		return 0, errors.New("sip: registrar accepted REGISTER but did not bind our contact")
	}
	var routes []gosip.Uri
	for _, h := range res.GetHeaders("Service-Route") {
		for _, v := range check.SplitAddrList(h.Value()) {
			var u gosip.Uri
			if _, err := gosip.ParseAddressValue(v, &u, nil); err == nil {
				routes = append(routes, u)
			}
		}
	}
	flowTimer := time.Duration(0)
	if n, err := strconv.Atoi(headerValue(res, "Flow-Timer")); err == nil && n > 0 {
		flowTimer = time.Duration(n) * time.Second
	}
	ua.mu.Lock()
	ua.reg.registered = asked > 0
	ua.reg.expires = granted
	ua.reg.outbound = hasToken(res, "Require", "outbound")
	ua.reg.flowTimer = flowTimer
	ua.reg.tempGRUU = gruu
	ua.reg.serviceRte = routes
	ua.mu.Unlock()
	return granted, nil
}

// isOurContact tells whether a Contact in a REGISTER response is our binding:
// same instance, or same URI.
func (ua *UA) isOurContact(c *gosip.ContactHeader) bool {
	if inst, ok := c.Params.Get("+sip.instance"); ok {
		return strings.Trim(inst, `"<>`) == ua.cfg.InstanceID
	}
	return c.Address.User == ua.cfg.User && strings.EqualFold(c.Address.Host, ua.host)
}

// unregister removes our binding (Expires 0).
func (ua *UA) unregister(ctx context.Context) error {
	_, err := ua.register(ctx, 0)
	ua.mu.Lock()
	ua.reg.registered = false
	ua.mu.Unlock()
	if err == nil {
		ua.emit(Event{Kind: EventUnregistered})
	}
	return err
}

// headerReader is the header access requests and responses share.
type headerReader interface {
	GetHeader(name string) gosip.Header
	GetHeaders(name string) []gosip.Header
}

// params builds header or URI parameters from key/value pairs.
func params(kv ...string) gosip.HeaderParams {
	p := gosip.NewParams()
	for i := 0; i+1 < len(kv); i += 2 {
		p.Add(kv[i], kv[i+1])
	}
	return p
}

// headerValue is the value of the first header called name, or "".
func headerValue(m headerReader, name string) string {
	if h := m.GetHeader(name); h != nil {
		return strings.TrimSpace(h.Value())
	}
	return ""
}

// hasToken tells whether a comma-separated header (Require, Supported) lists tok.
func hasToken(m headerReader, name, tok string) bool {
	for _, h := range m.GetHeaders(name) {
		for _, t := range strings.Split(h.Value(), ",") {
			if strings.EqualFold(strings.TrimSpace(t), tok) {
				return true
			}
		}
	}
	return false
}

// isDone tells whether the flow has ended.
func (f *flow) isDone() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}
