package callcenter

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// binding is one registered contact of an agent's phone.
type binding struct {
	key       string // +sip.instance, or the contact URI
	contact   sip.Uri
	header    *sip.ContactHeader // as registered, for the 200's Contact list
	path      []sip.Uri          // RFC 3327: route to the phone
	source    string             // host:port the REGISTER came from
	transport string             // UDP, TCP or WS: the flow it came on
	expires   time.Time
	updated   time.Time
}

// destination is where requests to the phone go: through its Path if
// any, else back over the flow the registration came on. A Path whose
// first hop is the registering flow ("ob", or the same address) also goes
// back over that flow.
func (b *binding) destination() (dest, transport string) {
	if len(b.path) == 0 {
		return b.source, b.transport
	}
	first := b.path[0]
	port := first.Port
	if port == 0 {
		port = 5060
	}
	hop := net.JoinHostPort(first.Host, strconv.Itoa(port))
	if first.UriParams.Has("ob") || hop == b.source {
		return b.source, b.transport
	}
	transport = b.transport
	if t, ok := first.UriParams.Get("transport"); ok && t != "" {
		transport = strings.ToUpper(t)
	}
	return hop, transport
}

// binding is the agent's most recently refreshed live binding, or nil.
func (cc *CallCenter) binding(a *agent) *binding {
	now := cc.now()
	var best *binding
	for _, b := range a.bindings {
		if b.expires.After(now) && (best == nil || b.updated.After(best.updated)) {
			best = b
		}
	}
	return best
}

// register handles REGISTER (RFC 3261 §10.3) for the agents' phones.
func (cc *CallCenter) register(req *sip.Request, tx sip.ServerTransaction) {
	agentID := req.To().Address.User
	cc.mu.Lock()
	a := cc.agents[agentID]
	cc.mu.Unlock()
	if a == nil {
		reply(tx, req, 404, "Not Found")
		return
	}
	switch cc.authenticate(req, agentID) {
	case authChallenge:
		reply(tx, req, 401, "Unauthorized", cc.challenge(false))
		return
	case authStale:
		reply(tx, req, 401, "Unauthorized", cc.challenge(true))
		return
	case authForbidden:
		cc.mu.Lock()
		cc.stats.AuthFailures++
		cc.mu.Unlock()
		cc.log.Warn("callcenter: registration refused", "agent", agentID, "source", req.Source())
		reply(tx, req, 403, "Forbidden")
		return
	}
	defaultExp := cc.cfg.MaxExpires
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.Atoi(strings.TrimSpace(h.Value()))
		if err != nil || n < 0 {
			reply(tx, req, 400, "Bad Request (Expires)")
			return
		}
		defaultExp = time.Duration(n) * time.Second
	}
	type change struct {
		h   *sip.ContactHeader
		exp time.Duration
	}
	var changes []change
	wildcard := false
	for _, h := range req.GetHeaders("Contact") {
		ch, ok := h.(*sip.ContactHeader)
		if !ok {
			reply(tx, req, 400, "Bad Request (Contact)")
			return
		}
		if ch.Address.Wildcard {
			wildcard = true
			continue
		}
		exp := defaultExp
		if v, ok := ch.Params.Get("expires"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				reply(tx, req, 400, "Bad Request (expires)")
				return
			}
			exp = time.Duration(n) * time.Second
		}
		if exp > 0 && exp < cc.cfg.MinExpires {
			reply(tx, req, 423, "Interval Too Brief", sip.NewHeader("Min-Expires", strconv.Itoa(int(cc.cfg.MinExpires/time.Second))))
			return
		}
		changes = append(changes, change{ch, min(exp, cc.cfg.MaxExpires)})
	}
	if wildcard && (len(changes) > 0 || defaultExp != 0) {
		reply(tx, req, 400, "Bad Request (wildcard)")
		return
	}
	path := pathOf(req)
	now := cc.now()
	var contacts []sip.Header
	cc.update(func(af *after) {
		if wildcard {
			a.bindings = nil
		}
		for _, c := range changes {
			key := bindingKey(c.h)
			a.bindings = slices.DeleteFunc(a.bindings, func(b *binding) bool { return b.key == key })
			if c.exp == 0 {
				continue
			}
			a.bindings = append(a.bindings, &binding{
				key: key, contact: *c.h.Address.Clone(), header: c.h.Clone(), path: path,
				source: req.Source(), transport: strings.ToUpper(req.Transport()),
				expires: now.Add(c.exp), updated: now,
			})
		}
		a.bindings = slices.DeleteFunc(a.bindings, func(b *binding) bool { return !b.expires.After(now) })
		for _, b := range a.bindings {
			h := b.header.Clone()
			h.Params.Remove("expires")
			h.Params.Add("expires", strconv.Itoa(int(b.expires.Sub(now).Round(time.Second)/time.Second)))
			contacts = append(contacts, h)
		}
		cc.stats.Registrations++
		cc.dispatch(af)
	})
	cc.log.Debug("callcenter: registered", "agent", agentID, "bindings", len(contacts), "transport", req.Transport())
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	for _, h := range contacts {
		res.AppendHeader(h)
	}
	for _, h := range req.GetHeaders("Path") {
		res.AppendHeader(sip.NewHeader("Path", h.Value()))
	}
	res.AppendHeader(sip.NewHeader("Server", "agentbar"))
	tx.Respond(res)
}

// bindingKey identifies a contact across refreshes: its instance ID
// (RFC 5626) when it has one, else its URI.
func bindingKey(h *sip.ContactHeader) string {
	if v, ok := h.Params.Get("+sip.instance"); ok && v != "" {
		return "instance " + strings.Trim(v, `"<>`)
	}
	return "uri " + h.Address.String()
}

// pathOf reads a REGISTER's Path headers (RFC 3327), in order.
func pathOf(req *sip.Request) []sip.Uri {
	var out []sip.Uri
	for _, h := range req.GetHeaders("Path") {
		for _, v := range splitList(h.Value()) {
			var u sip.Uri
			params := sip.NewParams()
			if _, err := sip.ParseAddressValue(v, &u, &params); err == nil {
				out = append(out, u)
			}
		}
	}
	return out
}

// splitList splits a comma-separated header value, keeping commas that sit
// inside quotes or angle brackets.
func splitList(s string) []string {
	var out []string
	inQuote, inAngle, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case '<':
			if !inQuote {
				inAngle = true
			}
		case '>':
			if !inQuote {
				inAngle = false
			}
		case ',':
			if !inQuote && !inAngle {
				if v := strings.TrimSpace(s[start:i]); v != "" {
					out = append(out, v)
				}
				start = i + 1
			}
		}
	}
	if v := strings.TrimSpace(s[start:]); v != "" {
		out = append(out, v)
	}
	return out
}

// parsePort reads a port number.
func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err == nil && (n <= 0 || n > 65535) {
		return 0, strconv.ErrRange
	}
	return n, err
}
