package sipedge

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentbar/agentbar/internal/interop"
	agentsip "github.com/agentbar/agentbar/sip"
)

// TestKamailio runs the edge between our UA and real peers: Kamailio as the
// registrar and proxy (digest auth for REGISTER and INVITE), SIPp as the far
// end over UDP. Each upstream transport gets its own Kamailio.
func TestKamailio(t *testing.T) {
	for _, tc := range []struct {
		name     string
		upstream func(k *interop.Kamailio) string
	}{
		{"udp", func(k *interop.Kamailio) string { return "sip:" + k.UDPAddr + ";transport=udp" }},
		{"tcp", func(k *interop.Kamailio) string { return "sip:" + k.TCPAddr + ";transport=tcp" }},
		{"ws", func(k *interop.Kamailio) string { return k.WSURL }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k := interop.StartKamailio(t, interop.KamailioConfig{
				Users:           map[string]string{"1001": "pw1001", "1002": "pw1002"},
				ProxyAuthInvite: true,
			})
			te := startEdge(t, tc.upstream(k), nil)
			ua, incoming, err := startUA(t, te.url(), "tok-1001", "1001", k.Domain)
			if err != nil {
				t.Fatalf("register through the edge: %v", err)
			}
			te.waitFlow(t, "1001", true)
			if n := te.Flows(); n != 1 {
				t.Fatalf("Flows() = %d, want 1", n)
			}

			t.Run("registrar stores Path", func(t *testing.T) {
				dump := kamcmd(t, k, "ul.dump")
				l := te.up.current()
				if l == nil {
					t.Fatal("no upstream link")
				}
				host, port := l.local()
				want := "@" + host + ":" + strconv.Itoa(port) + ";transport=" + tc.name + ";lr>"
				var path string
				for _, line := range strings.Split(dump, "\n") {
					if p, ok := strings.CutPrefix(strings.TrimSpace(line), "Path:"); ok {
						path = strings.TrimSpace(p)
					}
				}
				tok, _, _ := strings.Cut(strings.TrimPrefix(path, "<sip:"), "@")
				if !strings.HasSuffix(path, want) || !validToken(tok) {
					t.Fatalf("Path in Kamailio's location %q, want <sip:<flow token>%s\n%s", path, want, dump)
				}
			})

			t.Run("inbound call ended by SIPp", func(t *testing.T) {
				s := interop.StartSIPp(t, "uac_call.xml", k.UDPAddr, "-s", "1001")
				var c *agentsip.Call
				select {
				case c = <-incoming:
				case <-time.After(10 * time.Second):
					t.Fatal("no incoming call")
				}
				if err := c.Answer(ctxT(t), &fakeMedia{}); err != nil {
					t.Fatalf("answer: %v", err)
				}
				if err := s.Wait(ctxT(t)); err != nil {
					t.Fatal(err)
				}
				select {
				case <-c.Done():
				case <-time.After(10 * time.Second):
					t.Fatal("call did not end")
				}
				if cause, _, _ := c.End(); cause != agentsip.CauseRemoteHangup {
					t.Fatalf("end cause %v, want remote hangup", cause)
				}
			})

			t.Run("outbound call ended by us", func(t *testing.T) {
				s := interop.StartSIPp(t, "uas_call.xml", "")
				media := &fakeMedia{}
				c, err := ua.Dial(ctxT(t), s.URI("service"), media)
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				if err := c.Hangup(ctxT(t)); err != nil {
					t.Fatalf("hangup: %v", err)
				}
				if err := s.Wait(ctxT(t)); err != nil {
					t.Fatal(err)
				}
				if n := media.answerCount(); n != 1 {
					t.Fatalf("media got %d answers, want 1", n)
				}
			})

			t.Run("REGISTER for another user", func(t *testing.T) {
				// 1002's credentials are good at Kamailio, but the token is 1001's.
				_, _, err := startUA(t, te.url(), "tok-1001", "1002", k.Domain)
				var se *agentsip.StatusError
				if !errors.As(err, &se) || se.Code != 403 || !strings.Contains(se.Reason, "not your address of record") {
					t.Fatalf("got %v, want the edge's 403 refusal", err)
				}
			})

			if err := ua.Close(ctxT(t)); err != nil {
				t.Fatalf("close UA (unregister through the edge): %v", err)
			}
			for te.Flows() > 0 {
				te.waitFlow(t, "1001", false)
			}
		})
	}
}

// kamcmd runs a Kamailio RPC command over the instance's ctl socket.
func kamcmd(t *testing.T, k *interop.Kamailio, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("kamcmd")
	if err != nil {
		bin = "/usr/sbin/kamcmd"
	}
	out, err := exec.CommandContext(ctxT(t), bin, append([]string{"-s", "unix:" + k.CtlSocket}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kamcmd %v: %v\n%s", args, err, out)
	}
	return string(out)
}
