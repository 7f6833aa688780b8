package sip

import (
	"mime"
	"net"
	"regexp"
	"strconv"
	"strings"

	gosip "github.com/emiago/sipgo/sip"
)

// rejection is a reason to answer a request with an error instead of
// processing it, with any header that response must carry.
type rejection struct {
	code    int
	reason  string
	headers []gosip.Header
}

// knownMethods are the methods of RFC 3261 and its common extensions. A UA
// answers an unknown one 501 and a known one it does not take 405 (§8.2.1).
var knownMethods = map[string]bool{
	"INVITE": true, "ACK": true, "CANCEL": true, "BYE": true, "OPTIONS": true, "REGISTER": true,
	"INFO": true, "UPDATE": true, "PRACK": true, "SUBSCRIBE": true, "NOTIFY": true,
	"REFER": true, "MESSAGE": true, "PUBLISH": true,
}

// singleValued headers may appear once (RFC 3261 §7.3.1, §20).
var singleValued = []string{"From", "To", "Call-ID", "CSeq", "Max-Forwards", "Content-Length", "Content-Type", "Expires"}

// validateRequest applies the checks of RFC 3261 §8.2 that a UAS makes
// before looking at a request's meaning, beyond what the parser already
// refused. It returns nil for a request the UA may process.
func validateRequest(req *gosip.Request) *rejection {
	bad := func(why string) *rejection { return &rejection{code: 400, reason: "Bad Request (" + why + ")"} }
	if req.SipVersion != "SIP/2.0" {
		return &rejection{code: 505, reason: "Version Not Supported"}
	}
	for _, name := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		if req.GetHeader(name) == nil {
			return bad("missing " + name)
		}
	}
	for _, name := range singleValued {
		if len(req.GetHeaders(name)) > 1 {
			return bad("more than one " + name)
		}
	}
	if req.Via().Host == "" {
		return bad("malformed Via")
	}
	cseq := req.CSeq()
	if cseq.SeqNo > 1<<31-1 {
		return bad("CSeq number too large")
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() > 255 {
		return bad("Max-Forwards too large")
	}
	method := string(req.Method)
	if !knownMethods[method] {
		return &rejection{code: 501, reason: "Not Implemented", headers: []gosip.Header{gosip.NewHeader("Allow", allowed)}}
	}
	if string(cseq.MethodName) != method {
		return bad("CSeq method does not match the request method")
	}
	if req.Recipient.Headers.Length() > 0 {
		return bad("headers in the Request-URI") // RFC 3261 §19.1.5
	}
	switch strings.ToLower(req.Recipient.Scheme) {
	case "sip", "sips", "tel":
	default:
		return &rejection{code: 416, reason: "Unsupported URI Scheme"}
	}
	if method == "REGISTER" && !isSIPScheme(req.To().Address.Scheme) {
		return &rejection{code: 416, reason: "Unsupported URI Scheme"}
	}
	if method == "ACK" || method == "CANCEL" {
		return nil
	}
	if tags := unsupportedRequire(req); len(tags) > 0 {
		return &rejection{code: 420, reason: "Bad Extension", headers: []gosip.Header{gosip.NewHeader("Unsupported", strings.Join(tags, ", "))}}
	}
	if method == "INVITE" {
		return validateInviteBody(req)
	}
	return nil
}

func isSIPScheme(s string) bool {
	s = strings.ToLower(s)
	return s == "sip" || s == "sips"
}

// unsupportedRequire lists the Require option tags the UA does not support;
// it supports none in requests it receives.
func unsupportedRequire(req *gosip.Request) []string {
	var tags []string
	for _, h := range req.GetHeaders("Require") {
		for _, t := range strings.Split(h.Value(), ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	return tags
}

// validateInviteBody checks what an INVITE carries and accepts back: an SDP
// body (bare or in a multipart), no content coding, and an Accept that lets
// the answer be SDP (RFC 3261 §8.2.3, RFC 4475 §3.3.6, §3.3.15).
func validateInviteBody(req *gosip.Request) *rejection {
	accept := []gosip.Header{gosip.NewHeader("Accept", "application/sdp")}
	if enc := headerValue(req, "Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return &rejection{code: 415, reason: "Unsupported Media Type", headers: []gosip.Header{gosip.NewHeader("Accept-Encoding", "identity")}}
	}
	if len(req.Body()) > 0 {
		ct := headerValue(req, "Content-Type")
		if _, ok := extractSDP(ct, req.Body()); !ok {
			return &rejection{code: 415, reason: "Unsupported Media Type", headers: accept}
		}
	}
	if hs := req.GetHeaders("Accept"); len(hs) > 0 && !acceptsSDP(hs) {
		return &rejection{code: 406, reason: "Not Acceptable", headers: accept}
	}
	return nil
}

// acceptsSDP tells whether Accept headers admit application/sdp.
func acceptsSDP(hs []gosip.Header) bool {
	for _, h := range hs {
		for _, v := range strings.Split(h.Value(), ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(v))
			if err != nil {
				continue
			}
			if mt == "application/sdp" || mt == "application/*" || mt == "*/*" {
				return true
			}
		}
	}
	return false
}

// normalize trims the linear white space the parser leaves around header
// parameter names and values and inside Via's protocol fields (RFC 3261
// §7.3.1, §25.1 allow LWS there: RFC 4475 §3.1.1.1), so that tags and
// branches compare as the far end meant them.
func normalize(msg interface{ Headers() []gosip.Header }) {
	for _, h := range msg.Headers() {
		switch h := h.(type) {
		case *gosip.ToHeader:
			trimParams(h.Params)
			trimParams(h.Address.UriParams)
		case *gosip.FromHeader:
			trimParams(h.Params)
			trimParams(h.Address.UriParams)
		case *gosip.ContactHeader:
			trimParams(h.Params)
			trimParams(h.Address.UriParams)
		case *gosip.ViaHeader:
			normalizeVia(h)
		case *gosip.RouteHeader:
			trimParams(h.Address.UriParams)
		case *gosip.RecordRouteHeader:
			trimParams(h.Address.UriParams)
		}
	}
}

// normalizeVia trims a Via's fields; LWS after the last "/" leaves the
// parser with the transport inside the host ("TCP  host:port").
func normalizeVia(h *gosip.ViaHeader) {
	h.ProtocolName = strings.TrimSpace(h.ProtocolName)
	h.ProtocolVersion = strings.TrimSpace(h.ProtocolVersion)
	h.Transport = strings.TrimSpace(h.Transport)
	h.Host = strings.TrimSpace(h.Host)
	if f := strings.Fields(h.Host); h.Transport == "" && len(f) == 2 {
		h.Transport, h.Host = f[0], f[1]
		if host, port, err := net.SplitHostPort(h.Host); err == nil {
			if n, err := strconv.Atoi(port); err == nil && n > 0 && n < 65536 {
				h.Host, h.Port = host, n
			}
		}
	}
	trimParams(h.Params)
}

// restoreMethod puts back the request method as sent: methods are
// case-sensitive (RFC 3261 §7.1), and the parser upper-cases them.
func restoreMethod(req *gosip.Request, data []byte) {
	line := strings.TrimLeft(string(data[:min(len(data), 256)]), "\r\n")
	if m, _, ok := strings.Cut(line, " "); ok && strings.EqualFold(m, string(req.Method)) {
		req.Method = gosip.RequestMethod(m)
	}
}

func trimParams(p gosip.HeaderParams) {
	for i := range p {
		p[i].K = strings.TrimSpace(p[i].K)
		p[i].V = strings.TrimSpace(p[i].V)
	}
}

// addrHeaderRe finds the raw headers whose values are name-addr or addr-spec.
var addrHeaderRe = regexp.MustCompile(`(?im)^(contact|m|to|t|from|f)[ \t]*:(.*(?:\r\n[ \t].*)*)`)

// validateRaw checks what the parser cannot tell after the fact: a URI
// with headers ('?'), which must be inside angle brackets (RFC 3261 §20,
// RFC 4475 §3.1.2.13).
func validateRaw(data []byte) *rejection {
	head, _, _ := strings.Cut(string(data), "\r\n\r\n")
	for _, m := range addrHeaderRe.FindAllStringSubmatch(head, -1) {
		for _, v := range splitAddrList(m[2]) {
			if !strings.Contains(v, "<") && strings.Contains(v, "?") {
				return &rejection{code: 400, reason: "Bad Request (URI with headers outside angle brackets)"}
			}
		}
	}
	return nil
}

// schemeRe is the URI scheme syntax of RFC 3986 §3.1.
var schemeRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

// unsupportedScheme tells whether raw bytes the parser refused are a
// request whose Request-URI has a well-formed scheme we do not take, which
// deserves 416 rather than 400 (RFC 4475 §3.3.2, §3.3.3).
func unsupportedScheme(data []byte) bool {
	line, _, _ := strings.Cut(string(data), "\r\n")
	f := strings.Split(line, " ")
	if len(f) != 3 || f[2] != "SIP/2.0" {
		return false
	}
	scheme, _, ok := strings.Cut(f[1], ":")
	return ok && schemeRe.MatchString(scheme) && !isSIPScheme(scheme) && !strings.EqualFold(scheme, "tel")
}
