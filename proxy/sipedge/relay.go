package sipedge

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strconv"
	"strings"

	gosip "github.com/emiago/sipgo/sip"
)

// ownBranchPrefix starts the branch of every Via the edge adds: the RFC 3261
// magic cookie, then "-se-", the flow token, "-" and a hash.
const ownBranchPrefix = "z9hG4bK-se-"

// fromPage handles one WebSocket message from the page.
func (e *Edge) fromPage(f *flow, data []byte) {
	if len(bytes.Trim(data, "\r\n")) == 0 {
		if string(data) == "\r\n\r\n" {
			_ = f.send([]byte("\r\n")) // RFC 5626 §4.4.1 pong
		}
		return
	}
	msg, err := e.parser.ParseSIP(data)
	if err != nil || msg == nil {
		// The parser's error may quote the message; it is not logged.
		e.log.Debug("sipedge: unparseable message from page dropped", "flow", f.id(), "bytes", len(data))
		return
	}
	switch m := msg.(type) {
	case *gosip.Request:
		e.pageRequest(f, m)
	case *gosip.Response:
		e.pageResponse(f, m)
	}
}

// pageRequest relays a request from the page to the upstream.
func (e *Edge) pageRequest(f *flow, req *gosip.Request) {
	if code, reason := checkRequest(req); code != 0 {
		e.log.Debug("sipedge: request from page refused", "flow", f.id(), "code", code, "reason", reason)
		e.replyPage(f, req, code, reason)
		return
	}
	if req.Method == gosip.REGISTER && (req.From().Address.User != f.agent || req.To().Address.User != f.agent) {
		e.log.Warn("sipedge: REGISTER for another user refused", "agent", f.agent,
			"from_user", req.From().Address.User, "to_user", req.To().Address.User)
		e.replyPage(f, req, 403, "Forbidden (not your address of record)")
		return
	}
	if !decMaxForwards(req) {
		e.replyPage(f, req, 483, "Too Many Hops")
		return
	}
	l := e.up.await(e.ctx, upstreamWait)
	if l == nil {
		e.replyPage(f, req, 503, "Service Unavailable (upstream down)")
		return
	}
	host, port := l.local()
	branch := branchFor(f.token, req)
	if top := req.Route(); top != nil && namesUs(top.Address, host, port) {
		req.RemoveHeader("Route")
	}
	self := e.ownURI(f.token, host, port)
	if req.Method == gosip.REGISTER {
		for _, h := range req.GetHeaders("Path") {
			req.RemoveHeader(h.Name()) // a page has no business adding Path
		}
		req.PrependHeader(gosip.NewHeader("Path", "<"+self.String()+">"))
	}
	if dialogCreating(req) {
		req.PrependHeader(&gosip.RecordRouteHeader{Address: self})
	}
	if f.remoteIP != "" {
		req.Via().Params.Add("received", f.remoteIP) // RFC 3261 §18.2.1: sent-by is .invalid
	}
	req.PrependHeader(e.via(e.up.tp, host, port, branch))
	b := serialize(req)
	if err := l.write(b); err != nil {
		e.log.Warn("sipedge: upstream write failed", "flow", f.id(), "method", req.Method, "err", err)
		e.replyPage(f, req, 503, "Service Unavailable (upstream unreachable)")
		return
	}
	if e.retx != nil && !req.IsAck() {
		e.retx.start(branch+" "+string(req.CSeq().MethodName), b, req.IsInvite())
	}
}

// pageResponse relays the page's response to a request the edge sent it.
func (e *Edge) pageResponse(f *flow, res *gosip.Response) {
	via := res.Via()
	if via == nil {
		return
	}
	branch, _ := via.Params.Get("branch")
	if tok, ok := tokenOfBranch(branch); !ok || tok != f.token {
		e.log.Debug("sipedge: response from page matches no request of its flow", "flow", f.id(), "status", res.StatusCode)
		return
	}
	res.RemoveHeader("Via")
	if res.Via() == nil {
		return
	}
	if err := e.up.send(serialize(res)); err != nil {
		e.log.Warn("sipedge: upstream write failed", "flow", f.id(), "status", res.StatusCode, "err", err)
	}
}

// fromUpstream handles one message from the upstream.
func (e *Edge) fromUpstream(data []byte) {
	if len(bytes.Trim(data, "\r\n")) == 0 {
		return // keep-alive
	}
	msg, err := e.parser.ParseSIP(data)
	if err != nil || msg == nil {
		e.log.Debug("sipedge: unparseable message from upstream dropped", "bytes", len(data))
		return
	}
	switch m := msg.(type) {
	case *gosip.Request:
		e.upstreamRequest(m)
	case *gosip.Response:
		e.upstreamResponse(m)
	}
}

// upstreamResponse relays a response to a request from a page back to it.
func (e *Edge) upstreamResponse(res *gosip.Response) {
	via, cseq := res.Via(), res.CSeq()
	if via == nil || cseq == nil {
		return
	}
	branch, _ := via.Params.Get("branch")
	tok, ok := tokenOfBranch(branch)
	if !ok {
		e.log.Debug("sipedge: response from upstream not for us", "status", res.StatusCode)
		return
	}
	if e.retx != nil {
		e.retx.response(branch+" "+string(cseq.MethodName), res.StatusCode)
	}
	res.RemoveHeader("Via")
	if res.Via() == nil {
		return
	}
	f := e.flow(tok)
	if f == nil {
		e.log.Debug("sipedge: response for a closed flow dropped", "status", res.StatusCode)
		return
	}
	if err := f.send(serialize(res)); err != nil {
		e.log.Warn("sipedge: response to page dropped", "flow", f.id(), "status", res.StatusCode, "err", err)
	}
}

// upstreamRequest routes a request from the upstream to the flow named by
// the flow token in its top Route.
func (e *Edge) upstreamRequest(req *gosip.Request) {
	if code, reason := checkRequest(req); code != 0 {
		e.replyUpstream(req, code, reason)
		return
	}
	l := e.up.current()
	if l == nil {
		return
	}
	host, port := l.local()
	top := req.Route()
	if top == nil || !namesUs(top.Address, host, port) {
		e.replyUpstream(req, 404, "Not Found (no flow token)")
		return
	}
	tok := top.Address.User
	if !validToken(tok) {
		e.replyUpstream(req, 403, "Forbidden (bad flow token)") // RFC 5626 §5.3
		return
	}
	f := e.flow(tok)
	if f == nil {
		e.replyUpstream(req, 430, "Flow Failed")
		return
	}
	if !decMaxForwards(req) {
		e.replyUpstream(req, 483, "Too Many Hops")
		return
	}
	req.RemoveHeader("Route")
	if dialogCreating(req) {
		req.PrependHeader(&gosip.RecordRouteHeader{Address: e.ownURI(tok, host, port)})
	}
	req.PrependHeader(e.via(f.viaTransport, host, port, branchFor(tok, req)))
	switch err := f.send(serialize(req)); err {
	case nil:
	case errFlowClosed:
		req.RemoveHeader("Via")
		e.replyUpstream(req, 430, "Flow Failed")
	default:
		e.log.Warn("sipedge: request to page dropped", "flow", f.id(), "method", req.Method, "err", err)
	}
}

// replyPage answers a request from the page statelessly (never an ACK).
func (e *Edge) replyPage(f *flow, req *gosip.Request, code int, reason string) {
	if req.IsAck() {
		return
	}
	res := gosip.NewResponseFromRequest(req, code, reason, nil)
	_ = f.send(serialize(res))
}

// replyUpstream answers a request from the upstream statelessly (never an ACK).
func (e *Edge) replyUpstream(req *gosip.Request, code int, reason string) {
	if req.IsAck() {
		return
	}
	e.log.Debug("sipedge: request from upstream refused", "method", req.Method, "code", code)
	res := gosip.NewResponseFromRequest(req, code, reason, nil)
	if err := e.up.send(serialize(res)); err != nil {
		e.log.Warn("sipedge: upstream write failed", "status", code, "err", err)
	}
}

// via is the Via the edge puts on top of a request it relays.
func (e *Edge) via(transport, host string, port int, branch string) *gosip.ViaHeader {
	return &gosip.ViaHeader{
		ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: transport,
		Host: host, Port: port,
		Params: gosip.HeaderParams{{K: "branch", V: branch}, {K: "rport"}},
	}
}

// ownURI names the edge with a flow token, for Path and Record-Route:
// sip:<token>@host:port;transport=<upstream transport>;lr.
func (e *Edge) ownURI(token, host string, port int) gosip.Uri {
	return gosip.Uri{
		Scheme: "sip", User: token, Host: host, Port: port,
		UriParams: gosip.HeaderParams{{K: "transport", V: strings.ToLower(e.up.tp)}, {K: "lr"}},
	}
}

// namesUs tells whether a URI is the edge's address on the upstream side.
func namesUs(u gosip.Uri, host string, port int) bool {
	return u.Port == port && strings.EqualFold(strings.Trim(u.Host, "[]"), host)
}

// checkRequest makes the checks every relayed request must pass; it returns
// 0 or the status and reason of a refusal.
func checkRequest(req *gosip.Request) (int, string) {
	if req.SipVersion != "SIP/2.0" {
		return 505, "Version Not Supported"
	}
	for _, name := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		if req.GetHeader(name) == nil {
			return 400, "Bad Request (missing " + name + ")"
		}
	}
	if req.Via() == nil || req.Via().Host == "" || req.From() == nil || req.To() == nil || req.CSeq() == nil || req.CallID() == nil {
		return 400, "Bad Request (malformed header)"
	}
	if !strings.EqualFold(string(req.CSeq().MethodName), string(req.Method)) {
		return 400, "Bad Request (CSeq method does not match)"
	}
	return 0, ""
}

// decMaxForwards decrements Max-Forwards, adding 70 when it is missing
// (RFC 3261 §16.6 step 3). It reports false when the value is already 0.
func decMaxForwards(req *gosip.Request) bool {
	mf := req.MaxForwards()
	if mf == nil {
		v := gosip.MaxForwardsHeader(70)
		req.AppendHeader(&v)
		return true
	}
	if mf.Val() == 0 {
		return false
	}
	mf.Dec()
	return true
}

// dialogCreating tells whether the edge must record-route a request: an
// initial (no To tag) request of a method that creates dialogs.
func dialogCreating(req *gosip.Request) bool {
	if req.To().Params.Has("tag") {
		return false
	}
	switch req.Method {
	case gosip.INVITE, gosip.SUBSCRIBE, gosip.REFER, gosip.NOTIFY:
		return true
	}
	return false
}

// branchFor derives the branch of the edge's Via from the request's own top
// Via (RFC 3261 §16.11): retransmissions, the ACK of a non-2xx response and
// a CANCEL get the branch of the request they belong to, and the flow token
// in it matches responses back to the flow.
func branchFor(token string, req *gosip.Request) string {
	h := sha256.New()
	via := req.Via()
	b, _ := via.Params.Get("branch")
	sep := []byte{0}
	if strings.HasPrefix(b, "z9hG4bK") && len(b) > len("z9hG4bK") {
		io.WriteString(h, b)
		h.Write(sep)
		io.WriteString(h, strings.ToLower(via.SentBy()))
	} else {
		// An RFC 2543 peer: hash what identifies its transaction instead.
		fromTag, _ := req.From().Params.Get("tag")
		for _, s := range []string{fromTag, req.CallID().Value(), strconv.FormatUint(uint64(req.CSeq().SeqNo), 10), req.Recipient.String(), via.Value()} {
			io.WriteString(h, s)
			h.Write(sep)
		}
	}
	return ownBranchPrefix + token + "-" + hex.EncodeToString(h.Sum(nil)[:10])
}

// tokenOfBranch returns the flow token of a branch the edge made.
func tokenOfBranch(branch string) (string, bool) {
	rest, ok := strings.CutPrefix(branch, ownBranchPrefix)
	if !ok || len(rest) <= tokenLen+1 || rest[tokenLen] != '-' {
		return "", false
	}
	tok := rest[:tokenLen]
	return tok, validToken(tok)
}

// serialize renders a message for the wire, with the Content-Length that
// stream transports need (RFC 7118 leaves it optional on WebSocket).
func serialize(m gosip.Message) []byte {
	if m.ContentLength() == nil {
		m.SetBody(m.Body())
	}
	return []byte(m.String())
}
