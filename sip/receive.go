package sip

import (
	"bytes"
	"strings"

	gosip "github.com/emiago/sipgo/sip"

	"github.com/agentbar/agentbar/sip/check"
)

// receive handles one WebSocket message from the flow: a keep-alive, a
// response, or a request. Nothing in it may panic on any input; anything
// that is not a valid SIP message is refused with 400 where a response can
// be addressed, and dropped otherwise.
func (ua *UA) receive(c conn, data []byte) {
	switch {
	case len(bytes.Trim(data, "\r\n")) == 0:
		ua.keepAliveFrame(c, data)
		return
	}
	msg, err := ua.parser.ParseSIP(data)
	if err != nil || msg == nil {
		ua.log.Debug("sip: unparseable message", "err", err)
		if raw := check.Unparsable(data, err); raw != nil {
			c.writeRaw(raw)
		}
		return
	}
	switch m := msg.(type) {
	case *gosip.Response:
		check.Normalize(m)
		ua.handleResponse(m)
	case *gosip.Request:
		check.Normalize(m)
		check.RestoreMethod(m, data)
		m.SetSource(c.LocalAddr().String())
		rej := check.Request(m, allowed)
		if rej == nil {
			rej = check.Raw(data)
		}
		if rej != nil {
			ua.log.Debug("sip: request refused", "method", m.Method, "code", rej.Code, "reason", rej.Reason)
			if m.Method != gosip.ACK {
				if err := c.WriteMsg(check.Respond(m, rej, ua.cfg.UserAgent)); err != nil {
					ua.log.Debug("sip: write response failed", "err", err)
				}
			}
			return
		}
		ua.handleRequest(c, m)
	}
}

// keepAliveFrame answers an RFC 5626 ping (CRLFCRLF) with a pong (CRLF) and
// records a pong.
func (ua *UA) keepAliveFrame(c conn, data []byte) {
	if string(data) == "\r\n\r\n" {
		c.writeRaw([]byte("\r\n"))
		return
	}
	if f, ok := c.(*flow); ok {
		f.gotPong()
	}
}

// respondStateless answers a request outside any transaction (used for
// requests refused before a transaction is made, and for ACK-less cases).
func (ua *UA) respondStateless(c conn, req *gosip.Request, code int, reason string, hdrs ...gosip.Header) {
	res := gosip.NewResponseFromRequest(req, code, reason, nil)
	res.SipVersion = "SIP/2.0"
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	res.AppendHeader(gosip.NewHeader("Server", ua.cfg.UserAgent))
	if err := c.WriteMsg(res); err != nil {
		ua.log.Debug("sip: write response failed", "err", err)
	}
}

// handleResponse hands a response to its client transaction, or to the call
// it belongs to when the transaction is gone (a retransmitted or forked 2xx
// to INVITE). Anything else is dropped (RFC 3261 §18.1.2).
func (ua *UA) handleResponse(res *gosip.Response) {
	via, cseq := res.Via(), res.CSeq()
	if via == nil || cseq == nil || res.CallID() == nil {
		return
	}
	branch, _ := via.Params.Get("branch")
	key := clientKey(branch, string(cseq.MethodName))
	ua.mu.Lock()
	tx := ua.clientTxs[key]
	call := ua.calls[res.CallID().Value()]
	ua.mu.Unlock()
	if tx != nil {
		tx.Receive(res)
		return
	}
	if call != nil && cseq.MethodName == gosip.INVITE && res.IsSuccess() {
		call.strayInvite2xx(res)
		return
	}
	ua.log.Debug("sip: response matches no transaction", "status", res.StatusCode)
}

// handleRequest dispatches a valid request: to its transaction if it is a
// retransmission, to its call if it is in a dialog, or as a new request.
func (ua *UA) handleRequest(c conn, req *gosip.Request) {
	key := serverKey(req)
	ua.mu.Lock()
	tx := ua.serverTxs[key]
	ua.mu.Unlock()

	switch {
	case req.IsAck():
		if call := ua.callFor(req); call != nil && call.onAck(req) {
			return // ACK for our 2xx: end-to-end, outside the transaction
		}
		if tx != nil {
			tx.Receive(req) // ACK for a non-2xx final response
		}
		return
	case req.IsCancel():
		ua.handleCancel(c, req)
		return
	case tx != nil:
		tx.Receive(req) // retransmission: the transaction resends its last response
		return
	}

	tx = ua.newServerTx(c, req, key)
	if tx == nil {
		return
	}
	toTag, _ := req.To().Params.Get("tag")
	if toTag != "" {
		if call := ua.callFor(req); call != nil {
			call.onRequest(tx, req)
			return
		}
		ua.respond(tx, req, 481, "Call/Transaction Does Not Exist", "")
		return
	}
	switch req.Method {
	case gosip.INVITE:
		ua.incomingInvite(tx, req)
	case gosip.OPTIONS:
		ua.respond(tx, req, 200, "OK", "",
			gosip.NewHeader("Allow", allowed), gosip.NewHeader("Accept", "application/sdp"),
			gosip.NewHeader("Supported", "outbound, path, gruu"))
	case gosip.BYE, gosip.INFO, gosip.UPDATE, gosip.PRACK:
		ua.respond(tx, req, 481, "Call/Transaction Does Not Exist", "")
	default:
		ua.respond(tx, req, 405, "Method Not Allowed", "", gosip.NewHeader("Allow", allowed))
	}
}

// newServerTx makes and remembers a server transaction for req.
func (ua *UA) newServerTx(c conn, req *gosip.Request, key string) *gosip.ServerTx {
	tx := gosip.NewServerTx(key, req, c, ua.log)
	if err := tx.Init(); err != nil {
		ua.log.Debug("sip: server transaction init failed", "err", err)
		return nil
	}
	ua.mu.Lock()
	ua.serverTxs[key] = tx
	ua.mu.Unlock()
	go func() {
		<-tx.Done()
		ua.mu.Lock()
		if ua.serverTxs[key] == tx {
			delete(ua.serverTxs, key)
		}
		ua.mu.Unlock()
	}()
	return tx
}

// respond sends a response on a server transaction. A non-empty toTag is
// put in the To header (the dialog's local tag); otherwise the response
// gets a fresh tag, as a non-dialog response does.
func (ua *UA) respond(tx *gosip.ServerTx, req *gosip.Request, code int, reason, toTag string, hdrs ...gosip.Header) *gosip.Response {
	return ua.respondBody(tx, req, code, reason, toTag, nil, hdrs...)
}

func (ua *UA) respondBody(tx *gosip.ServerTx, req *gosip.Request, code int, reason, toTag string, sdp []byte, hdrs ...gosip.Header) *gosip.Response {
	res := gosip.NewResponseFromRequest(req, code, reason, nil)
	if toTag != "" && code > 100 {
		res.To().Params.Add("tag", toTag)
	}
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	res.AppendHeader(gosip.NewHeader("Server", ua.cfg.UserAgent))
	if len(sdp) > 0 {
		res.AppendHeader(gosip.NewHeader("Content-Type", "application/sdp"))
		res.SetBody(sdp)
	}
	if err := tx.Respond(res); err != nil {
		ua.log.Debug("sip: respond failed", "code", code, "err", err)
	}
	return res
}

// handleCancel answers CANCEL (RFC 3261 §9.2): 200 to the CANCEL, and the
// matching INVITE, if still unanswered, ends with 487.
func (ua *UA) handleCancel(c conn, req *gosip.Request) {
	inviteKey := strings.Replace(serverKey(req), " CANCEL", " INVITE", 1)
	ua.mu.Lock()
	inviteTx := ua.serverTxs[inviteKey]
	var call *Call
	for _, cl := range ua.calls {
		if cl.inviteTx != nil && cl.inviteTx == inviteTx {
			call = cl
			break
		}
	}
	ua.mu.Unlock()
	if inviteTx == nil {
		ua.respondStateless(c, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	ua.respondStateless(c, req, 200, "OK")
	if call != nil {
		call.onCancel()
	}
}

// callFor finds the call whose dialog a request belongs to (RFC 3261 §12.2.2):
// Call-ID, our tag in To, the far end's tag in From.
func (ua *UA) callFor(req *gosip.Request) *Call {
	toTag, _ := req.To().Params.Get("tag")
	fromTag, _ := req.From().Params.Get("tag")
	ua.mu.Lock()
	call := ua.calls[req.CallID().Value()]
	ua.mu.Unlock()
	if call == nil || !call.matches(toTag, fromTag) {
		return nil
	}
	return call
}
