// Package check holds what a SIP element checks on every message before
// it looks at its meaning (RFC 3261 §8.2, RFC 4475): the repairs sipgo's
// parser needs, the request checks that end in 400, 416, 420, 415, 406, 501
// or 505, and the raw answer to bytes that do not parse. The user agent and
// the call center's trunk share it.
package check

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"net"
	"strconv"
	"strings"

	gosip "github.com/emiago/sipgo/sip"
)

// Rejection is a reason to answer a request with an error instead of
// processing it, with any header that response must carry.
type Rejection struct {
	Code    int
	Reason  string
	Headers []gosip.Header
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

// Request applies the checks of RFC 3261 §8.2 that a UAS makes
// before looking at a request's meaning, beyond what the parser already
// refused. It returns nil for a request the UA may process.
func Request(req *gosip.Request, allow string) *Rejection {
	bad := func(why string) *Rejection { return &Rejection{Code: 400, Reason: "Bad Request (" + why + ")"} }
	if req.SipVersion != "SIP/2.0" {
		return &Rejection{Code: 505, Reason: "Version Not Supported"}
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
		return &Rejection{Code: 501, Reason: "Not Implemented", Headers: []gosip.Header{gosip.NewHeader("Allow", allow)}}
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
		return &Rejection{Code: 416, Reason: "Unsupported URI Scheme"}
	}
	if method == "REGISTER" && !isSIPScheme(req.To().Address.Scheme) {
		return &Rejection{Code: 416, Reason: "Unsupported URI Scheme"}
	}
	if method == "ACK" || method == "CANCEL" {
		return nil
	}
	if tags := unsupportedRequire(req); len(tags) > 0 {
		return &Rejection{Code: 420, Reason: "Bad Extension", Headers: []gosip.Header{gosip.NewHeader("Unsupported", strings.Join(tags, ", "))}}
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
func validateInviteBody(req *gosip.Request) *Rejection {
	accept := []gosip.Header{gosip.NewHeader("Accept", "application/sdp")}
	if enc := headerValue(req, "Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return &Rejection{Code: 415, Reason: "Unsupported Media Type", Headers: []gosip.Header{gosip.NewHeader("Accept-Encoding", "identity")}}
	}
	if len(req.Body()) > 0 {
		ct := headerValue(req, "Content-Type")
		if _, ok := SDP(ct, req.Body()); !ok {
			return &Rejection{Code: 415, Reason: "Unsupported Media Type", Headers: accept}
		}
	}
	if hs := req.GetHeaders("Accept"); len(hs) > 0 && !acceptsSDP(hs) {
		return &Rejection{Code: 406, Reason: "Not Acceptable", Headers: accept}
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

// Normalize trims the linear white space the parser leaves around header
// parameter names and values and inside Via's protocol fields (RFC 3261
// §7.3.1, §25.1 allow LWS there: RFC 4475 §3.1.1.1), so that tags and
// branches compare as the far end meant them.
func Normalize(msg interface{ Headers() []gosip.Header }) (changed bool) {
	for _, h := range msg.Headers() {
		switch h := h.(type) {
		case *gosip.ToHeader:
			changed = trimParams(h.Params) || trimParams(h.Address.UriParams) || changed
		case *gosip.FromHeader:
			changed = trimParams(h.Params) || trimParams(h.Address.UriParams) || changed
		case *gosip.ContactHeader:
			changed = trimParams(h.Params) || trimParams(h.Address.UriParams) || changed
		case *gosip.ViaHeader:
			changed = normalizeVia(h) || changed
		case *gosip.RouteHeader:
			changed = trimParams(h.Address.UriParams) || changed
		case *gosip.RecordRouteHeader:
			changed = trimParams(h.Address.UriParams) || changed
		}
	}
	return changed
}

// normalizeVia trims a Via's fields; LWS after the last "/" leaves the
// parser with the transport inside the host ("TCP  host:port").
func normalizeVia(h *gosip.ViaHeader) bool {
	before := *h
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
	changed := trimParams(h.Params)
	return changed || before.ProtocolName != h.ProtocolName || before.ProtocolVersion != h.ProtocolVersion ||
		before.Transport != h.Transport || before.Host != h.Host || before.Port != h.Port
}

// RestoreMethod puts back the request method as sent: methods are
// case-sensitive (RFC 3261 §7.1), and the parser upper-cases them.
func RestoreMethod(req *gosip.Request, data []byte) {
	line := strings.TrimLeft(string(data[:min(len(data), 256)]), "\r\n")
	if m, _, ok := strings.Cut(line, " "); ok && strings.EqualFold(m, string(req.Method)) {
		req.Method = gosip.RequestMethod(m)
	}
}

func trimParams(p gosip.HeaderParams) (changed bool) {
	for i := range p {
		k, v := strings.TrimSpace(p[i].K), strings.TrimSpace(p[i].V)
		changed = changed || k != p[i].K || v != p[i].V
		p[i].K, p[i].V = k, v
	}
	return changed
}

// addrHeaders are the headers whose values are name-addr or addr-spec,
// in long and compact form.
var addrHeaders = []string{"contact", "m", "to", "t", "from", "f"}

// headerNamed matches line against "name [ \t]* :" for the first of names
// it starts with, ignoring case, and returns the name as written and what
// follows the colon. (A hand-written match rather than a regexp keeps the
// regexp engine and its Unicode tables out of the browser build.)
func headerNamed(line string, names []string) (name, value string, ok bool) {
	for _, n := range names {
		k, ok := foldPrefix(line, n)
		if !ok {
			continue
		}
		i := k
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i < len(line) && line[i] == ':' {
			return line[:k], line[i+1:], true
		}
	}
	return "", "", false
}

// foldPrefix tells whether s starts with the lower-case ASCII name under
// Unicode simple case folding, as a (?i) regexp matches it, and returns the
// length of the prefix in s. Two ASCII letters fold to a non-ASCII one as
// well: s to U+017F (long s) and k to U+212A (Kelvin sign).
func foldPrefix(s, name string) (int, bool) {
	i := 0
	for j := 0; j < len(name); j++ {
		c := name[j]
		switch {
		case i < len(s) && (s[i] == c || 'a' <= c && c <= 'z' && s[i] == c-'a'+'A'):
			i++
		case c == 's' && strings.HasPrefix(s[i:], "\u017f"):
			i += len("\u017f")
		case c == 'k' && strings.HasPrefix(s[i:], "\u212a"):
			i += len("\u212a")
		default:
			return 0, false
		}
	}
	return i, true
}

// Raw checks what the parser cannot tell after the fact: a URI
// with headers ('?'), which must be inside angle brackets (RFC 3261 §20,
// RFC 4475 §3.1.2.13).
func Raw(data []byte) *Rejection {
	head, _, _ := strings.Cut(string(data), "\r\n\r\n")
	// Unfold continuation lines (RFC 3261 §7.3.1), so that a value
	// carried over several lines is checked whole.
	head = strings.NewReplacer("\r\n ", "  ", "\r\n\t", " \t").Replace(head)
	for _, line := range strings.Split(head, "\n") {
		_, value, ok := headerNamed(line, addrHeaders)
		if !ok {
			continue
		}
		for _, v := range SplitAddrList(value) {
			if !strings.Contains(v, "<") && strings.Contains(v, "?") {
				return &Rejection{Code: 400, Reason: "Bad Request (URI with headers outside angle brackets)"}
			}
		}
	}
	return nil
}

// isScheme tells whether s has the URI scheme syntax of RFC 3986 §3.1:
// ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		alpha := 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
		if !alpha && (i == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return s != ""
}

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
	return ok && isScheme(scheme) && !isSIPScheme(scheme) && !strings.EqualFold(scheme, "tel")
}

// Unparsable is the answer to bytes the parser refused: 513 when they are
// over its size limit (gosip.ErrMessageTooLarge, RFC 3261 §21.5.14), 416
// when they are a request whose Request-URI has a well-formed scheme we
// do not take, 400 with the parser's complaint otherwise, or nil when
// nothing can be addressed (a response, an ACK, missing
// Via/From/To/Call-ID/CSeq).
func Unparsable(data []byte, err error) []byte {
	code, reason := 400, "Bad Request ("+parseReason(err)+")"
	switch {
	case errors.Is(err, gosip.ErrMessageTooLarge):
		code, reason = 513, "Message Too Large"
	case unsupportedScheme(data):
		code, reason = 416, "Unsupported URI Scheme"
	}
	return rawReject(data, code, reason)
}

// Respond builds the response to a request refused by Request or Raw.
func Respond(req *gosip.Request, rej *Rejection, server string) *gosip.Response {
	res := gosip.NewResponseFromRequest(req, rej.Code, rej.Reason, nil)
	res.SipVersion = "SIP/2.0"
	for _, h := range rej.Headers {
		res.AppendHeader(h)
	}
	res.AppendHeader(gosip.NewHeader("Server", server))
	return res
}

// parseReason turns a parser error into a short reason for a 400.
func parseReason(err error) string {
	if err == nil {
		return "empty message"
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// rawHeaders are the headers a response copies from its request, in long
// or compact form, from raw bytes the parser refused.
var rawHeaders = []string{"via", "v", "from", "f", "to", "t", "call-id", "i", "cseq"}

// rawReject builds a response to bytes that did not parse, when they look
// like a request whose Via, From, To, Call-ID and CSeq can be copied
// verbatim (RFC 3261 §8.2.6.2); otherwise it returns nil.
func rawReject(data []byte, code int, reason string) []byte {
	head, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\r\n")
	if len(lines) < 2 || !strings.HasSuffix(strings.TrimRight(lines[0], " "), "SIP/2.0") || strings.HasPrefix(lines[0], "SIP/") {
		return nil
	}
	if strings.HasPrefix(lines[0], "ACK ") {
		return nil // never answer an ACK
	}
	var copied []string
	seen := map[string]int{}
	for i := 1; i < len(lines); i++ {
		written, _, ok := headerNamed(lines[i], rawHeaders)
		if !ok {
			continue
		}
		full := lines[i]
		for i+1 < len(lines) && (strings.HasPrefix(lines[i+1], " ") || strings.HasPrefix(lines[i+1], "\t")) {
			i++
			full += " " + strings.TrimSpace(lines[i])
		}
		name := canonicalCompact(strings.ToLower(written))
		seen[name]++
		copied = append(copied, full)
	}
	for _, need := range []string{"via", "from", "to", "call-id", "cseq"} {
		if seen[need] == 0 {
			return nil
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, reason)
	for _, l := range copied {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.Bytes()
}

func canonicalCompact(n string) string {
	switch n {
	case "v":
		return "via"
	case "f":
		return "from"
	case "t":
		return "to"
	case "i":
		return "call-id"
	}
	return n
}

// SDP returns the SDP carried in a message body of the given
// Content-Type: the body itself for application/sdp, the first application/sdp
// part of a multipart body (RFC 5621), or ok=false if there is none.
func SDP(contentType string, body []byte) (sdp []byte, ok bool) {
	if len(body) == 0 {
		return nil, true
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, false
	}
	switch {
	case mt == "application/sdp":
		return body, true
	case strings.HasPrefix(mt, "multipart/") && params["boundary"] != "":
		r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := r.NextPart()
			if err != nil {
				return nil, false
			}
			pt, _, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
			if err == nil && pt == "application/sdp" {
				var b bytes.Buffer
				if _, err := b.ReadFrom(p); err != nil {
					return nil, false
				}
				return b.Bytes(), true
			}
		}
	}
	return nil, false
}

// SplitAddrList splits a comma-separated list of name-addrs, leaving commas
// inside quotes and angle brackets alone.
func SplitAddrList(s string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == '<' && !quoted:
			depth++
		case c == '>' && !quoted:
			depth--
		case c == ',' && !quoted && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if rest := strings.TrimSpace(s[start:]); rest != "" {
		out = append(out, rest)
	}
	return out
}

// headerValue is the value of the first header called name, or "".
func headerValue(m interface{ GetHeader(string) gosip.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return strings.TrimSpace(h.Value())
	}
	return ""
}
