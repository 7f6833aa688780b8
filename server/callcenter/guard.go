package callcenter

import (
	"bytes"
	"log/slog"
	"net"

	"github.com/emiago/sipgo/sip"

	"github.com/agentbar/agentbar/sip/check"
)

// guardConn stands in front of sipgo on the trunk's UDP socket, where
// anyone may send anything. What sipgo would drop or accept wrongly gets the
// answer RFC 3261 §8.2 and RFC 4475 ask for, from the same checks the user
// agent makes (sip/check): bytes that do not parse get 400 with the reason
// (416 for an unknown Request-URI scheme), and a request that breaks the
// rules gets its error (505, 400, 416, 420, 415, 406, 501). Everything else
// reaches sipgo unchanged. Answers go back to the source address.
type guardConn struct {
	net.PacketConn
	parser *sip.Parser
	log    *slog.Logger
	// served tells whether a Request-URI user is one the trunk serves (a
	// queue). RFC 3261 §8.2.2 answers an unserved address (404, from the
	// trunk) before the content checks of §8.2.3 (415, 406).
	served func(user string) bool
}

// ReadFrom returns the next datagram that should reach sipgo, answering or
// dropping the others on the way.
func (g *guardConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := g.PacketConn.ReadFrom(b)
		if err != nil || n == 0 {
			return n, addr, err
		}
		reply, pass, fixed := g.check(b[:n])
		if fixed != nil && len(fixed) <= len(b) {
			n = copy(b, fixed)
		}
		if reply != nil {
			if _, err := g.PacketConn.WriteTo(reply, addr); err != nil {
				g.log.Debug("callcenter: guard reply failed", "err", err)
			}
		}
		if pass {
			return n, addr, nil
		}
	}
}

// check decides what to do with one datagram: answer it (reply), hand it
// to sipgo (pass), or drop it (neither). When the parser left linear white
// space in parameters (legal, RFC 4475 §3.1.1.1), fixed is the request
// written again without it, so that sipgo sees the tags and branches the
// sender meant.
func (g *guardConn) check(data []byte) (reply []byte, pass bool, fixed []byte) {
	if len(bytes.Trim(data, "\r\n\x00")) == 0 {
		return nil, true, nil // keep-alive
	}
	msg, err := g.parser.ParseSIP(data)
	if err != nil || msg == nil {
		g.log.Debug("callcenter: trunk datagram does not parse", "err", err)
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
	if changed {
		fixed = []byte(req.String())
	}
	switch {
	case rej == nil:
		return nil, true, fixed
	case req.IsAck():
		return nil, false, nil
	case (rej.Code == 415 || rej.Code == 406) && !g.served(req.Recipient.User):
		return nil, true, fixed
	}
	g.log.Debug("callcenter: trunk request refused", "method", req.Method, "code", rej.Code, "reason", rej.Reason)
	return []byte(check.Respond(req, rej, "agentbar").String()), false, nil
}
