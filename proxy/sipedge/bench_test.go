package sipedge

import (
	"errors"
	"net"
	"strconv"
	"testing"

	gosip "github.com/emiago/sipgo/sip"
)

// BenchmarkRegisterRoundTrip measures one REGISTER from a page through the
// edge to a UDP registrar that answers 200 at once, and the 200 back.
func BenchmarkRegisterRoundTrip(b *testing.B) {
	up := newFakeUpstream(b)
	go answerAll(up.c)
	te := startEdge(b, up.uri(), func(c *Config) { c.Logger = nil })
	p := dialPage(b, te.url(), "tok-1001", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p.send(register("1001", "z9hG4bKbench"+strconv.Itoa(i)))
		if res := p.recv(); startLine(res) != "SIP/2.0 200 OK" {
			b.Fatalf("got %q", startLine(res))
		}
	}
}

// answerAll answers every request read from c with 200 until c is closed.
func answerAll(c *net.UDPConn) {
	parser := gosip.NewParser()
	buf := make([]byte, 65535)
	for {
		n, from, err := c.ReadFromUDP(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		msg, err := parser.ParseSIP(buf[:n])
		req, ok := msg.(*gosip.Request)
		if err != nil || !ok {
			continue
		}
		res := gosip.NewResponseFromRequest(req, 200, "OK", nil)
		c.WriteToUDP([]byte(res.String()), from)
	}
}
