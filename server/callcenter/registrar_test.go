package callcenter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
	"github.com/agentbar/agentbar/sip"
)

func TestRegistrarRules(t *testing.T) {
	cc, _ := newTestCC(t, func(c *Config) { c.SIPPassword = nil }) // authentication is tested below
	addr := cc.Addrs().SIP
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	to := "<sip:a1@agentbar.local>"
	contact := "Contact: <sip:a1@10.0.0.9:5999>"
	cases := []struct {
		name  string
		extra []string
		want  string
		check func(res string) error
	}{
		{"too brief", []string{contact, "Expires: 10"}, "SIP/2.0 423", func(res string) error {
			if header(res, "Min-Expires") != "60" {
				return errors.New("no Min-Expires: 60")
			}
			return nil
		}},
		{"bind", []string{contact, "Expires: 120"}, "SIP/2.0 200", func(res string) error {
			if !strings.Contains(header(res, "Contact"), "expires=120") {
				return fmt.Errorf("Contact %q does not grant 120 s", header(res, "Contact"))
			}
			return nil
		}},
		{"capped", []string{contact + ";expires=99999"}, "SIP/2.0 200", func(res string) error {
			if !strings.Contains(header(res, "Contact"), "expires=3600") {
				return fmt.Errorf("Contact %q not capped at an hour", header(res, "Contact"))
			}
			return nil
		}},
		{"wildcard needs Expires 0", []string{"Contact: *"}, "SIP/2.0 400", nil},
		{"wildcard", []string{"Contact: *", "Expires: 0"}, "SIP/2.0 200", func(string) error {
			if n := cc.Stats().Bindings; n != 0 {
				return fmt.Errorf("%d bindings left", n)
			}
			return nil
		}},
	}
	for _, tc := range cases {
		res := sipExchange(t, conn, request(conn, "REGISTER", "sip:agentbar.local", to, tc.extra...))
		if !strings.HasPrefix(statusOf(res), tc.want) {
			t.Errorf("%s: %s, want %s", tc.name, statusOf(res), tc.want)
			continue
		}
		if tc.check != nil {
			if err := tc.check(res); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
	}
	res := sipExchange(t, conn, request(conn, "REGISTER", "sip:agentbar.local", "<sip:nobody@agentbar.local>", contact))
	if !strings.HasPrefix(statusOf(res), "SIP/2.0 404") {
		t.Errorf("unknown agent: %s", statusOf(res))
	}
}

func TestRegistrarAuthentication(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	conn, err := net.Dial("udp", cc.Addrs().SIP)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res := sipExchange(t, conn, request(conn, "REGISTER", "sip:agentbar.local", "<sip:a1@agentbar.local>", "Contact: <sip:a1@10.0.0.9>"))
	ch := header(res, "WWW-Authenticate")
	if !strings.HasPrefix(statusOf(res), "SIP/2.0 401") || !strings.Contains(ch, `realm="agentbar.local"`) || !strings.Contains(ch, `qop="auth"`) || !strings.Contains(ch, "algorithm=MD5") {
		t.Errorf("challenge: %s / %s", statusOf(res), ch)
	}

	for _, tc := range []struct {
		name, user, password string
	}{
		{"wrong password", "a1", "nope"},
		{"expired username", fmt.Sprintf("%d:a1", time.Now().Add(-time.Minute).Unix()), "pw-a1"},
		{"another agent's username", "a2", "pw-a2"},
	} {
		ua, err := sip.NewUA(sip.Config{
			URL: "ws://" + cc.Addrs().WS, User: "a1", Domain: "agentbar.local",
			AuthUser: tc.user, Password: tc.password, KeepAlive: -1, ReconnectMin: time.Hour,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		err = ua.Start(ctx)
		cancel()
		var se *sip.StatusError
		if !errors.As(err, &se) || se.Code != 403 {
			t.Errorf("%s: registration error %v, want 403", tc.name, err)
		}
		ctx, cancel = context.WithTimeout(context.Background(), time.Second)
		ua.Close(ctx)
		cancel()
	}
	if st := cc.Stats(); st.AuthFailures != 3 || st.Bindings != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestCallsFollowThePath(t *testing.T) {
	cc, _ := newTestCC(t, func(c *Config) { c.SIPPassword = nil })
	// the "edge" registers from one socket and asks to be reached on another
	reg, err := net.Dial("udp", cc.Addrs().SIP)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	edge, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer edge.Close()
	path := fmt.Sprintf("<sip:edge@%s;lr>", edge.LocalAddr())
	res := sipExchange(t, reg, request(reg, "REGISTER", "sip:agentbar.local", "<sip:a1@agentbar.local>",
		"Contact: <sip:a1@df7jal23ls0d.invalid;transport=ws>", "Path: "+path, "Supported: path", "Expires: 600"))
	if !strings.HasPrefix(statusOf(res), "SIP/2.0 200") || header(res, "Path") != path {
		t.Fatalf("REGISTER with Path: %s, Path %q", statusOf(res), header(res, "Path"))
	}

	ev := newRecorder(t, "a1")
	s, err := cc.SignIn("a1", gateway.SignInOptions{}, ev.sink)
	if err != nil {
		t.Fatal(err)
	}
	s.Do(t.Context(), gateway.Command{Op: gateway.OpReady})
	id, _ := cc.PlaceCall("support", "ivy", nil)

	inv := readRequest(t, edge)
	if line := statusOf(inv); line != "INVITE sip:a1@df7jal23ls0d.invalid;transport=ws SIP/2.0" {
		t.Errorf("Request-Line = %q", line)
	}
	if r := header(inv, "Route"); r != path {
		t.Errorf("Route = %q, want %q", r, path)
	}
	if header(inv, "X-Agentbar-Call-ID") != id {
		t.Errorf("X-Agentbar-Call-ID = %q", header(inv, "X-Agentbar-Call-ID"))
	}
	// the edge's phone is busy
	busy := strings.Join([]string{
		"SIP/2.0 486 Busy Here",
		"Via: " + header(inv, "Via"),
		"From: " + header(inv, "From"),
		"To: " + header(inv, "To") + ";tag=edge1",
		"Call-ID: " + header(inv, "Call-ID"),
		"CSeq: " + header(inv, "CSeq"),
		"Content-Length: 0", "", "",
	}, "\r\n")
	if _, err := edge.WriteTo([]byte(busy), mustResolve(t, cc.Addrs().SIP)); err != nil {
		t.Fatal(err)
	}
	ev.state(gateway.StateNotReady, ReasonRejected)
	if ack := readRequest(t, edge); !strings.HasPrefix(ack, "ACK ") {
		t.Errorf("no ACK for the 486: %q", statusOf(ack))
	}
}

func mustResolve(t *testing.T, addr string) net.Addr {
	a, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
