package callcenter

import (
	"bufio"
	"context"
	"fmt"
	"net"
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
