package callcenter

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentbar/agentbar/internal/interop"
	"github.com/agentbar/agentbar/proxy/gateway"
)

// waitSIPp waits for a SIPp run to succeed.
func waitSIPp(t *testing.T, s *interop.SIPp) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if err := s.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSIPpDialsQueueOverTrunk(t *testing.T) {
	for _, tc := range []struct{ name, transport string }{{"udp", "u1"}, {"tcp", "t1"}} {
		t.Run(tc.name, func(t *testing.T) {
			cc, _ := newTestCC(t, nil)
			a1 := signIn(t, cc, "a1", answerCalls)
			a1.ready(t)
			s := interop.StartSIPp(t, "uac_call.xml", cc.Addrs().Trunk, "-s", "support", "-t", tc.transport)
			in := a1.ev.call(gateway.EvCallIncoming)
			if in.Call.Caller != "sipp" || in.Call.Queue != "support" {
				t.Errorf("call.incoming = %+v", in.Call)
			}
			a1.ev.call(gateway.EvCallAnswered)
			a1.ev.ended(CauseCustomerHangup) // SIPp sends BYE
			a1.ev.state(gateway.StateWrapUp, "")
			waitSIPp(t, s)
			if st, ok := cc.CallStats(in.Call.ID); !ok || !st.Ended {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestSIPpHoldsAndResumesOverTrunk(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	a1 := signIn(t, cc, "a1", answerCalls)
	a1.ready(t)
	s := interop.StartSIPp(t, "uac_hold.xml", cc.Addrs().Trunk, "-s", "support")
	a1.ev.call(gateway.EvCallAnswered)
	a1.ev.ended(CauseCustomerHangup)
	waitSIPp(t, s)
}

func TestSIPpCancelsWhileAgentRings(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	a1 := signIn(t, cc, "a1", ignoreCalls)
	a1.ready(t)
	s := interop.StartSIPp(t, "uac_cancel.xml", cc.Addrs().Trunk, "-s", "support")
	a1.ev.call(gateway.EvCallRinging)
	a1.ev.ended(CauseAbandoned)
	a1.ev.state(gateway.StateReady, "")
	waitSIPp(t, s)
	if st := cc.Stats(); st.CallsAbandoned != 1 || st.Waiting != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestDialNumberOverTrunk(t *testing.T) {
	s := interop.StartSIPp(t, "uas_call.xml", "")
	cc, _ := newTestCC(t, func(c *Config) { c.TrunkOutbound = s.Addr() })
	a1 := signIn(t, cc, "a1", answerCalls)
	a1.do(t, gateway.Command{Op: gateway.OpDial, Target: gateway.Target{Kind: gateway.TargetNumber, ID: "5550199"}})
	a1.ev.call(gateway.EvCallAnswered) // SIPp answered
	a1.do(t, gateway.Command{Op: gateway.OpHangup})
	a1.ev.ended(CauseAgentHangup)
	waitSIPp(t, s) // SIPp got its BYE
}

// sipExchange sends raw SIP over conn and returns the first line of each
// response until a final one.
func sipExchange(t *testing.T, conn net.Conn, msg string) string {
	t.Helper()
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 65535)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no response to %q: %v", strings.SplitN(msg, "\r\n", 2)[0], err)
		}
		status := strings.SplitN(string(buf[:n]), "\r\n", 2)[0]
		if !strings.HasPrefix(status, "SIP/2.0 1") {
			return string(buf[:n])
		}
	}
}

// request is a minimal SIP request from conn's local address.
func request(conn net.Conn, method, ruri, to string, extra ...string) string {
	tp := "UDP"
	if conn.LocalAddr().Network() == "tcp" {
		tp = "TCP"
	}
	tag := randomID(4)
	h := []string{
		fmt.Sprintf("%s %s SIP/2.0", method, ruri),
		fmt.Sprintf("Via: SIP/2.0/%s %s;branch=z9hG4bK%s;rport", tp, conn.LocalAddr(), randomID(6)),
		"Max-Forwards: 70",
		fmt.Sprintf("From: <sip:tester@%s>;tag=%s", conn.LocalAddr(), tag),
		"To: " + to,
		"Call-ID: " + randomID(8),
		fmt.Sprintf("CSeq: 1 %s", method),
	}
	if !strings.Contains(strings.Join(extra, "\n"), "Contact:") {
		h = append(h, fmt.Sprintf("Contact: <sip:tester@%s>", conn.LocalAddr()))
	}
	h = append(h, extra...)
	return strings.Join(h, "\r\n") + "\r\nContent-Length: 0\r\n\r\n"
}

func statusOf(res string) string { return strings.SplitN(res, "\r\n", 2)[0] }

func TestTrunkSurvivesGarbageAndRefusesUnknownQueues(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	addr := cc.Addrs().Trunk
	garbage := []string{
		"\x00\x01\x02\x03",
		"INVITE\r\n\r\n",
		"INVITE sip:support@x SIP/2.0\r\nVia: nonsense\r\n\r\n",
		"SIP/2.0 200 OK\r\nCSeq: banana\r\n\r\n",
		"REGISTER sip:x SIP/2.0\r\nContent-Length: 99999\r\n\r\nshort",
		"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK1\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\n\r\n",
		strings.Repeat("A", 3000),
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, g := range garbage {
			c, err := net.Dial(network, addr)
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte(g))
			c.Close()
		}
		conn, err := net.Dial(network, addr)
		if err != nil {
			t.Fatal(err)
		}
		res := sipExchange(t, conn, request(conn, "OPTIONS", "sip:support@"+addr, "<sip:support@"+addr+">"))
		if got := statusOf(res); got != "SIP/2.0 200 OK" {
			t.Errorf("%s OPTIONS after garbage: %s", network, got)
		}
		res = sipExchange(t, conn, request(conn, "INVITE", "sip:nosuch@"+addr, "<sip:nosuch@"+addr+">"))
		if got := statusOf(res); !strings.HasPrefix(got, "SIP/2.0 404") {
			t.Errorf("%s INVITE to an unknown queue: %s", network, got)
		}
		res = sipExchange(t, conn, request(conn, "BYE", "sip:support@"+addr, "<sip:support@"+addr+">;tag=x"))
		if got := statusOf(res); !strings.HasPrefix(got, "SIP/2.0 481") {
			t.Errorf("%s stray BYE: %s", network, got)
		}
		conn.Close()
	}
}

// readRequest reads one SIP request from a UDP socket.
func readRequest(t *testing.T, conn net.PacketConn) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 65535)
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no request arrived: %v", err)
		}
		if !strings.HasPrefix(string(buf[:n]), "SIP/2.0") {
			return string(buf[:n])
		}
	}
}

// header is the first value of a header in a raw message.
func header(msg, name string) string {
	sc := bufio.NewScanner(strings.NewReader(msg))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// rawPeer is a SIP peer that writes raw messages to the trunk, over UDP
// or TCP.
type rawPeer struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader // TCP: the stream responses are framed from
}

func dialRaw(t *testing.T, network, addr string) *rawPeer {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawPeer{t: t, conn: c, br: bufio.NewReader(c)}
}

// send writes a message made of lines.
func (p *rawPeer) send(lines ...string) {
	p.t.Helper()
	if _, err := p.conn.Write([]byte(strings.Join(lines, "\r\n"))); err != nil {
		p.t.Fatal(err)
	}
}

// read returns the next message from the trunk.
func (p *rawPeer) read() string {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(waitTimeout))
	if p.conn.LocalAddr().Network() == "udp" {
		buf := make([]byte, 65535)
		n, err := p.conn.Read(buf)
		if err != nil {
			p.t.Fatalf("nothing from the trunk: %v", err)
		}
		return string(buf[:n])
	}
	var head []byte
	for len(head) < 4 || string(head[len(head)-4:]) != "\r\n\r\n" {
		line, err := p.br.ReadSlice('\n')
		if err != nil {
			p.t.Fatalf("nothing from the trunk: %v", err)
		}
		head = append(head, line...)
	}
	n, err := contentLength(head)
	if err != nil {
		p.t.Fatal(err)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(p.br, body); err != nil {
		p.t.Fatal(err)
	}
	return string(head) + string(body)
}

// final returns the next final response from the trunk.
func (p *rawPeer) final() string {
	p.t.Helper()
	for {
		if res := p.read(); !strings.HasPrefix(res, "SIP/2.0 1") {
			return res
		}
	}
}

// rfc2543Request is the start of a request as an RFC 2543 peer sends it:
// no branch in its Via, no tag in its From (RFC 4475 §3.1.1.13).
func rfc2543Request(p *rawPeer, method, ruri, to, callID string, cseq int) []string {
	me := p.conn.LocalAddr()
	return []string{
		fmt.Sprintf("%s %s SIP/2.0", method, ruri),
		fmt.Sprintf("Via: SIP/2.0/%s %s", strings.ToUpper(me.Network()), me),
		fmt.Sprintf("From: <sip:customer@%s>", me),
		"To: " + to,
		"Call-ID: " + callID,
		fmt.Sprintf("CSeq: %d %s", cseq, method),
		"Max-Forwards: 70",
	}
}

// TestTrunkTakesRFC2543Calls has an RFC 2543 peer call a queue, over UDP,
// over TCP, and through a proxy that records its route (so that our BYE
// leaves from a socket of sipgo's, not the trunk's).
func TestTrunkTakesRFC2543Calls(t *testing.T) {
	for _, tc := range []struct {
		name, network string
		proxy         bool
	}{{"udp", "udp", false}, {"tcp", "tcp", false}, {"udp via a proxy", "udp", true}} {
		t.Run(tc.name, func(t *testing.T) {
			cc, _ := newTestCC(t, nil)
			a1 := signIn(t, cc, "a1", answerCalls)
			a1.ready(t)
			trunk := cc.Addrs().Trunk
			p := dialRaw(t, tc.network, trunk)
			me := p.conn.LocalAddr().String()
			ruri, callID := "sip:support@"+trunk, randomID(8)+"@rfc2543"
			sdp := string(plainSDP(1, 40000, dirSendRecv))
			invite := rfc2543Request(p, "INVITE", ruri, "<"+ruri+">", callID, 1)
			extra := []string{"Contact: <sip:customer@" + me + ">"}
			var proxy net.PacketConn
			if tc.proxy {
				var err error
				if proxy, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
					t.Fatal(err)
				}
				defer proxy.Close()
				extra = append(extra, "Record-Route: <sip:"+proxy.LocalAddr().String()+";lr>")
			}
			p.send(slices.Concat(invite, extra, []string{"Content-Type: application/sdp",
				fmt.Sprintf("Content-Length: %d", len(sdp)), "", sdp})...)
			res := p.final()
			if statusOf(res) != "SIP/2.0 200 OK" {
				t.Fatalf("INVITE: %s", statusOf(res))
			}
			for _, h := range []string{"Via", "From"} {
				if got, sent := header(res, h), header(strings.Join(invite, "\r\n"), h); got != sent {
					t.Errorf("200's %s = %q, want %q as sent", h, got, sent)
				}
			}
			to := header(res, "To")
			if !strings.Contains(to, ";tag=") {
				t.Errorf("200's To has no tag: %q", to)
			}
			// Its ACK (same Via, no branch) confirms the dialog: else our
			// BYE would wait for the INVITE transaction to time out.
			p.send(append(rfc2543Request(p, "ACK", ruri, to, callID, 1), "Content-Length: 0", "", "")...)
			a1.ev.call(gateway.EvCallAnswered)
			a1.do(t, gateway.Command{Op: gateway.OpHangup})
			var bye string
			if tc.proxy {
				bye = readRequest(t, proxy)
			} else {
				for bye = p.read(); !strings.HasPrefix(bye, "BYE "); bye = p.read() {
				}
			}
			if got, want := header(bye, "To"), header(strings.Join(invite, "\r\n"), "From"); got != want {
				t.Errorf("BYE's To = %q, want the INVITE's From %q", got, want)
			}
			if got := header(bye, "From"); got != to {
				t.Errorf("BYE's From = %q, want the 200's To %q", got, to)
			}
			ok := []string{"SIP/2.0 200 OK"}
			for _, h := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
				ok = append(ok, h+": "+header(bye, h))
			}
			ok = append(ok, "Content-Length: 0", "", "")
			if tc.proxy {
				sentBy, _, _ := strings.Cut(strings.Fields(header(bye, "Via"))[1], ";")
				if _, err := proxy.WriteTo([]byte(strings.Join(ok, "\r\n")), mustResolve(t, sentBy)); err != nil {
					t.Fatal(err)
				}
			} else {
				p.send(ok...)
			}
			a1.ev.ended(CauseAgentHangup)
		})
	}
}

func TestTrunkMatchesRFC2543Retransmissions(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	trunk := cc.Addrs().Trunk
	p := dialRaw(t, "udp", trunk)
	ruri, callID := "sip:nosuch@"+trunk, randomID(8)+"@rfc2543"
	invite := append(rfc2543Request(p, "INVITE", ruri, "<"+ruri+">", callID, 1), "Content-Length: 0", "", "")
	p.send(invite...)
	p.send(invite...) // a retransmission: the same transaction, the same answer
	first, second := p.final(), p.final()
	if statusOf(first) != "SIP/2.0 404 Not Found" || statusOf(second) != statusOf(first) {
		t.Fatalf("INVITE twice: %s, then %s", statusOf(first), statusOf(second))
	}
	if header(first, "To") != header(second, "To") {
		t.Errorf("two transactions answered: To %q, then %q", header(first, "To"), header(second, "To"))
	}
	p.send(append(rfc2543Request(p, "ACK", ruri, header(first, "To"), callID, 1), "Content-Length: 0", "", "")...)
}

func TestTrunkAnswersLongRequestsOverUDP(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	addr := cc.Addrs().Trunk
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	to := `"` + strings.Repeat("x", 2000) + `" <sip:support@` + addr + `>` // copied into the answer
	res := sipExchange(t, conn, request(conn, "OPTIONS", "sip:support@"+addr, to))
	if statusOf(res) != "SIP/2.0 200 OK" || len(res) < 2000 {
		t.Errorf("got %d bytes: %s", len(res), statusOf(res))
	}
}

// TestTrunkByeWaitsForLateAck: the agent hangs up before the customer's
// ACK of our 200 arrives. RFC 3261 §15 has the BYE wait for that ACK; it
// must still find the call's dialog when the ACK comes, and the BYE go.
func TestTrunkByeWaitsForLateAck(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	a1 := signIn(t, cc, "a1", answerCalls)
	a1.ready(t)
	trunk := cc.Addrs().Trunk
	p := dialRaw(t, "udp", trunk)
	me := p.conn.LocalAddr().String()
	ruri, callID := "sip:support@"+trunk, randomID(8)+"@late-ack"
	start := func(method, branch, to string, cseq int) []string {
		return []string{
			fmt.Sprintf("%s %s SIP/2.0", method, ruri),
			fmt.Sprintf("Via: SIP/2.0/UDP %s;branch=z9hG4bK%s", me, branch),
			fmt.Sprintf("From: <sip:customer@%s>;tag=late", me),
			"To: " + to,
			"Call-ID: " + callID,
			fmt.Sprintf("CSeq: %d %s", cseq, method),
			"Max-Forwards: 70",
		}
	}
	sdp := string(plainSDP(1, 40000, dirSendRecv))
	p.send(slices.Concat(start("INVITE", "inv1", "<"+ruri+">", 1), []string{"Contact: <sip:customer@" + me + ">",
		"Content-Type: application/sdp", fmt.Sprintf("Content-Length: %d", len(sdp)), "", sdp})...)
	res := p.final()
	if statusOf(res) != "SIP/2.0 200 OK" {
		t.Fatalf("INVITE: %s", statusOf(res))
	}
	a1.ev.call(gateway.EvCallAnswered)
	a1.do(t, gateway.Command{Op: gateway.OpHangup})
	a1.ev.ended(CauseAgentHangup)
	p.send(append(start("ACK", "ack1", header(res, "To"), 1), "Content-Length: 0", "", "")...)
	bye := p.read()
	for strings.HasPrefix(bye, "SIP/2.0 200") { // retransmissions of our 200 until the ACK
		bye = p.read()
	}
	if !strings.HasPrefix(bye, "BYE ") || header(bye, "Call-ID") != callID {
		t.Fatalf("after the late ACK: %q, want our BYE", statusOf(bye))
	}
}
