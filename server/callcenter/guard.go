package callcenter

import (
	"bytes"
	"log/slog"
	"net"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/agentbar/agentbar/sip/check"
)

// guard stands in front of sipgo on the trunk's sockets, UDP (guardConn)
// and TCP (guardStream), where anyone may send anything. What sipgo would
// drop or accept wrongly gets the answer RFC 3261 §8.2 and RFC 4475 ask
// for, from the same checks the user agent makes (sip/check): bytes that
// do not parse get 400 with the reason (416 for an unknown Request-URI
// scheme), and a request that breaks the rules gets its error (505, 400,
// 416, 420, 415, 406, 501). Everything else reaches sipgo, repaired where
// sipgo would misread it (see check).
//
// A request without a From tag (RFC 2543 style, RFC 4475 §3.1.1.13) reaches
// sipgo with nullTag as its From tag. RFC 3261 takes a missing tag as a
// null one (§12.1.1) and, with no magic cookie in the branch, matches a
// request to its transaction by From tag, Call-ID, CSeq and top Via among
// others (§17.2.3); sipgo does so too, but only for a From with a tag.
// With nullTag, the request's retransmissions, its CANCEL and the ACK of
// its non-2xx final response match its transaction, and a dialog it
// starts has an ID. nullTag is random, so no peer can send it, and it is
// taken out of what sipgo sends on the guard's sockets (strip): the peer
// gets its From exactly as it sent it (§8.2.6.2), with the To tag sipgo
// adds.
type guard struct {
	parser *sip.Parser
	log    *slog.Logger
	// served tells whether a Request-URI user is one the trunk serves (a
	// queue). RFC 3261 §8.2.2 answers an unserved address (404, from the
	// trunk) before the content checks of §8.2.3 (415, 406).
	served  func(user string) bool
	nullTag string
	mark    []byte // ";tag=" + nullTag, as sipgo writes it
	// timeout bounds how long a TCP peer may take to send the rest of a
	// message it has begun, and how long a stream that cannot be framed
	// stays open for the answers to the messages before (a transaction's
	// lifetime, 64*T1).
	timeout time.Duration
}

// newGuard makes a guard for an endpoint that serves the Request-URI
// users served accepts.
func newGuard(log *slog.Logger, served func(user string) bool) *guard {
	g := &guard{parser: sip.NewParser(), log: log, served: served, nullTag: "null-" + randomID(8), timeout: 64 * sip.T1}
	g.mark = []byte(";tag=" + g.nullTag)
	return g
}

// check decides what to do with one message: answer it (reply), hand it
// to sipgo (pass), or drop it (neither). When sipgo should see the
// request otherwise than it was sent, fixed is the request written again:
// without the linear white space the parser left in parameters (legal,
// RFC 4475 §3.1.1.1), so that sipgo sees the tags and branches the sender
// meant, and with nullTag in a From without a tag.
func (g *guard) check(data []byte) (reply []byte, pass bool, fixed []byte) {
	if len(bytes.Trim(data, "\r\n\x00")) == 0 {
		return nil, true, nil // keep-alive
	}
	msg, err := g.parser.ParseSIP(data)
	if err != nil || msg == nil {
		g.log.Debug("callcenter: trunk message does not parse", "err", err)
		return check.Unparsable(data, err), false, nil
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		return nil, true, nil
	}
	changed := check.Normalize(req)
	check.RestoreMethod(req, data)
	rej := check.Request(req, allowMethods)
	if rej == nil {
		rej = check.Raw(data)
	}
	switch {
	case rej == nil, (rej.Code == 415 || rej.Code == 406) && !g.served(req.Recipient.User):
	case req.IsAck():
		return nil, false, nil
	default:
		g.log.Debug("callcenter: trunk request refused", "method", req.Method, "code", rej.Code, "reason", rej.Reason)
		return []byte(check.Respond(req, rej, "agentbar").String()), false, nil
	}
	if from := req.From(); from != nil && !from.Params.Has("tag") {
		from.Params.Add("tag", g.nullTag)
		changed = true
	}
	if changed {
		fixed = []byte(req.String())
	}
	return nil, true, fixed
}

// strip takes nullTag out of the headers of a message on its way out.
func (g *guard) strip(msg []byte) []byte {
	i := bytes.Index(msg, g.mark)
	if i < 0 {
		return msg
	}
	end := bytes.Index(msg, []byte("\r\n\r\n"))
	if end < i {
		return msg
	}
	return append(bytes.ReplaceAll(msg[:end], g.mark, nil), msg[end:]...)
}

// guardConn puts a guard in front of sipgo on a UDP socket. Its answers
// go back to the source address.
type guardConn struct {
	net.PacketConn
	g *guard
}

// ReadFrom returns the next datagram that should reach sipgo, answering or
// dropping the others on the way.
func (c *guardConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || n == 0 {
			return n, addr, err
		}
		reply, pass, fixed := c.g.check(b[:n])
		if fixed != nil && len(fixed) <= len(b) {
			n = copy(b, fixed)
		}
		if reply != nil {
			if _, err := c.PacketConn.WriteTo(reply, addr); err != nil {
				c.g.log.Debug("callcenter: guard reply failed", "err", err)
			}
		}
		if pass {
			return n, addr, nil
		}
	}
}

// WriteTo sends a datagram from sipgo, without nullTag.
func (c *guardConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if _, err := c.PacketConn.WriteTo(c.g.strip(b), addr); err != nil {
		return 0, err
	}
	return len(b), nil
}
