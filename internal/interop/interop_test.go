package interop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// These tests run the real programs: Kamailio, SIPp, and a native sipgo
// user agent registered over SIP-over-WebSocket. The sipgo UA receives the
// calls SIPp places on the very WebSocket connection it registered on.

const (
	testUser     = "1001"
	testPassword = "pw1001"
)

func TestKamailioAndSIPp(t *testing.T) {
	for _, tc := range []struct {
		algorithm       string
		proxyAuthInvite bool
	}{
		{"MD5", false},
		{"SHA-256", true},
	} {
		t.Run(tc.algorithm, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			k := StartKamailio(t, KamailioConfig{
				Users:           map[string]string{testUser: testPassword},
				Algorithm:       tc.algorithm,
				ProxyAuthInvite: tc.proxyAuthInvite,
			})
			ua := newTestUA(t, k, testUser, testPassword)

			t.Run("register", func(t *testing.T) { ua.registerChecked(ctx, t, tc.algorithm) })
			if t.Failed() {
				return
			}

			t.Run("uac_call", func(t *testing.T) {
				s := StartSIPp(t, "uac_call.xml", k.UDPAddr, "-s", testUser)
				if err := s.Wait(ctx); err != nil {
					t.Fatal(err)
				}
				inv := ua.lastInvite(t)
				// Kamailio sent it over the UA's own WebSocket connection, to
				// the registered contact, and record-routed it.
				if got := inv.Recipient.Host; !strings.HasSuffix(got, ".invalid") {
					t.Errorf("INVITE request URI %s: want the registered .invalid contact", inv.Recipient.String())
				}
				if inv.GetHeader("Record-Route") == nil {
					t.Errorf("INVITE has no Record-Route:\n%s", inv)
				}
				logMessage(t, "INVITE as delivered to the WS UA", inv)
			})

			t.Run("uac_hold", func(t *testing.T) {
				s := StartSIPp(t, "uac_hold.xml", k.UDPAddr, "-s", testUser)
				if err := s.Wait(ctx); err != nil {
					t.Fatal(err)
				}
				if got := ua.reinvites.Load(); got < 2 {
					t.Errorf("UA saw %d re-INVITEs, want 2", got)
				}
			})

			t.Run("uac_cancel", func(t *testing.T) {
				ua.ring.Store(true)
				defer ua.ring.Store(false)
				s := StartSIPp(t, "uac_cancel.xml", k.UDPAddr, "-s", testUser)
				if err := s.Wait(ctx); err != nil {
					t.Fatal(err)
				}
			})

			t.Run("uas_call", func(t *testing.T) {
				s := StartSIPp(t, "uas_call.xml", "")
				d := ua.invite(ctx, t, s.URI("service"))
				var challenged bool
				err := d.WaitAnswer(ctx, sipgo.AnswerOptions{
					Username: testUser,
					Password: testPassword,
					OnResponse: func(r *sip.Response) error {
						if r.StatusCode == sip.StatusProxyAuthRequired {
							challenged = true
							checkChallenge(t, r.GetHeader("Proxy-Authenticate"), tc.algorithm)
						}
						return nil
					},
				})
				if err != nil {
					t.Fatalf("INVITE to %s: %v", s.URI("service"), err)
				}
				if challenged != tc.proxyAuthInvite {
					t.Errorf("INVITE challenged with 407: %v, want %v", challenged, tc.proxyAuthInvite)
				}
				if !strings.Contains(string(d.InviteResponse.Body()), "m=audio ") {
					t.Errorf("200 has no SDP answer:\n%s", d.InviteResponse)
				}
				logMessage(t, "200 for the UA's INVITE", d.InviteResponse)
				if err := d.Ack(ctx); err != nil {
					t.Fatalf("ACK: %v", err)
				}
				if err := d.Bye(ctx); err != nil {
					t.Fatalf("BYE: %v", err)
				}
				if err := s.Wait(ctx); err != nil {
					t.Fatal(err)
				}
			})

			t.Run("uas_cancel", func(t *testing.T) {
				s := StartSIPp(t, "uas_cancel.xml", "")
				d := ua.invite(ctx, t, s.URI("service"))
				ringing, stop := context.WithCancel(ctx)
				defer stop()
				err := d.WaitAnswer(ringing, sipgo.AnswerOptions{
					Username: testUser,
					Password: testPassword,
					OnResponse: func(r *sip.Response) error {
						if r.StatusCode == sip.StatusRinging {
							stop() // WaitAnswer sends CANCEL
						}
						return nil
					},
				})
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("WaitAnswer: %v, want context.Canceled after CANCEL", err)
				}
				if d.InviteResponse == nil || d.InviteResponse.StatusCode != sip.StatusRequestTerminated {
					t.Fatalf("final response %v, want 487", d.InviteResponse)
				}
				if err := s.Wait(ctx); err != nil {
					t.Fatal(err)
				}
			})

			t.Run("not_registered", func(t *testing.T) {
				// a configured user without a registration, and an unknown user
				s := StartSIPp(t, "uac_call.xml", k.UDPAddr, "-s", "1999")
				if err := s.Wait(ctx); err == nil || !strings.Contains(err.Error(), "404") {
					t.Errorf("call to unknown user: %v, want a failed run that saw 404", err)
				}
			})
		})
	}
}

// TestKamailioWebSocketCRLFKeepAlive records what Kamailio's websocket
// module does with an RFC 5626 double-CRLF keep-alive sent as a text frame.
func TestKamailioWebSocketCRLFKeepAlive(t *testing.T) {
	t.Parallel()
	k := StartKamailio(t, KamailioConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, k.WSURL, &websocket.DialOptions{Subprotocols: []string{"sip"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()

	if err := c.Write(ctx, websocket.MessageText, []byte("\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	// An OPTIONS right after it: its 200 arrives after any pong, so the
	// first frame read tells whether a pong was sent (no timeout needed).
	options := "OPTIONS sip:" + k.TCPAddr + ";transport=ws SIP/2.0\r\n" +
		"Via: SIP/2.0/WS ka.invalid;branch=z9hG4bK-ka1\r\n" +
		"From: <sip:ka@ka.invalid>;tag=ka1\r\n" +
		"To: <sip:" + k.TCPAddr + ">\r\n" +
		"Call-ID: ka1@ka.invalid\r\n" +
		"CSeq: 1 OPTIONS\r\n" +
		"Max-Forwards: 70\r\n" +
		"Content-Length: 0\r\n\r\n"
	if err := c.Write(ctx, websocket.MessageText, []byte(options)); err != nil {
		t.Fatal(err)
	}
	typ, first, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v\n%s", err, k.Log())
	}
	switch {
	case string(first) == "\r\n":
		t.Logf("Kamailio answered the CRLF keep-alive with a CRLF pong (%v frame)", typ)
		_, next, err := c.Read(ctx)
		if err != nil || !strings.HasPrefix(string(next), "SIP/2.0 200") {
			t.Fatalf("after the pong: %q, %v", next, err)
		}
	case strings.HasPrefix(string(first), "SIP/2.0 200"):
		t.Fatalf("Kamailio did not answer the CRLF keep-alive; first frame was the OPTIONS reply")
	default:
		t.Fatalf("unexpected first frame %q", first)
	}
}

// testUA is a native sipgo user agent registered over WebSocket. It answers
// incoming calls on the same connection: 180 then 200 with an SDP answer
// (or, with ring set, 180 until the caller cancels), re-INVITEs with an
// answer that mirrors the offered direction, and BYE with 200.
type testUA struct {
	k          *Kamailio
	user, pass string
	ua         *sipgo.UserAgent
	client     *sipgo.Client
	dialogs    *sipgo.DialogUA
	contact    sip.ContactHeader

	ring      atomic.Bool
	reinvites atomic.Int32
	sdpVer    atomic.Int32

	mu      sync.Mutex
	invites []*sip.Request
}

func newTestUA(t testing.TB, k *Kamailio, user, pass string) *testUA {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(user), sipgo.WithUserAgentHostname(k.Domain))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	client, err := sipgo.NewClient(ua)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	u := &testUA{k: k, user: user, pass: pass, ua: ua, client: client}
	u.contact = sip.ContactHeader{
		Address: sip.Uri{Scheme: "sip", User: user, Host: sip.GenerateTagN(12) + ".invalid",
			UriParams: sip.HeaderParams{{K: "transport", V: "ws"}}},
	}
	u.dialogs = &sipgo.DialogUA{Client: client, ContactHDR: u.contact}

	srv.OnInvite(u.onInvite)
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		u.respond(tx, req, 200, "OK", nil, "")
	})
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		u.respond(tx, req, 200, "OK", nil, "")
	})
	return u
}

// newRegister builds a REGISTER for the UA's AoR, sent to Kamailio's
// WebSocket listener, with the Contact and options a browser UA would use.
func (u *testUA) newRegister() *sip.Request {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: u.k.Domain})
	req.SetTransport("WS")
	req.SetDestination(u.k.TCPAddr)
	aor := sip.Uri{Scheme: "sip", User: u.user, Host: u.k.Domain}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(10))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	contact := u.contact
	contact.Params = sip.HeaderParams{
		{K: "+sip.instance", V: `"<urn:uuid:5c1f2a3e-0000-4000-8000-` + fmt.Sprintf("%012d", len(u.user)) + `>"`},
		{K: "reg-id", V: "1"},
	}
	req.AppendHeader(&contact)
	req.AppendHeader(sip.NewHeader("Expires", "300"))
	req.AppendHeader(sip.NewHeader("Supported", "path, outbound"))
	return req
}

// registerChecked proves: no credentials -> 401 with the right algorithm
// and qop=auth; wrong password -> 401 again; right password -> 200.
func (u *testUA) registerChecked(ctx context.Context, t *testing.T, algorithm string) {
	req := u.newRegister()
	res, err := u.client.Do(ctx, req)
	if err != nil {
		t.Fatalf("REGISTER: %v", err)
	}
	if res.StatusCode != sip.StatusUnauthorized {
		t.Fatalf("REGISTER without credentials: %d %s, want 401", res.StatusCode, res.Reason)
	}
	checkChallenge(t, res.GetHeader("WWW-Authenticate"), algorithm)

	res, err = u.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: u.user, Password: "wrong-" + u.pass})
	if err != nil {
		t.Fatalf("REGISTER with a wrong password: %v", err)
	}
	if res.StatusCode != sip.StatusUnauthorized {
		t.Fatalf("REGISTER with a wrong password: %d %s, want 401", res.StatusCode, res.Reason)
	}

	res, err = u.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: u.user, Password: u.pass})
	if err != nil {
		t.Fatalf("REGISTER with credentials: %v", err)
	}
	if res.StatusCode != sip.StatusOK {
		t.Fatalf("REGISTER with credentials: %d %s, want 200\n%s", res.StatusCode, res.Reason, res)
	}
	if c := res.Contact(); c == nil || c.Address.Host != u.contact.Address.Host {
		t.Errorf("200 for REGISTER does not list our contact:\n%s", res)
	}
	logMessage(t, "200 for REGISTER", res)
}

// checkChallenge asserts a digest challenge with the algorithm and qop=auth.
func checkChallenge(t testing.TB, h sip.Header, algorithm string) {
	t.Helper()
	if h == nil {
		t.Errorf("no challenge header")
		return
	}
	v := h.Value()
	if !strings.HasPrefix(v, "Digest ") {
		t.Errorf("%s: %s, want Digest", h.Name(), v)
	}
	if !strings.Contains(v, "algorithm="+algorithm) && !strings.Contains(v, `algorithm="`+algorithm+`"`) {
		t.Errorf("%s: %s, want algorithm=%s", h.Name(), v, algorithm)
	}
	if !strings.Contains(v, `qop="auth"`) && !strings.Contains(v, "qop=auth") {
		t.Errorf("%s: %s, want qop=auth", h.Name(), v)
	}
}

// invite starts a call from the UA through Kamailio (preloaded Route to its
// WebSocket listener) to target, with a PCMU offer.
func (u *testUA) invite(ctx context.Context, t testing.TB, target string) *sipgo.DialogClientSession {
	t.Helper()
	var to sip.Uri
	if err := sip.ParseUri(target, &to); err != nil {
		t.Fatal(err)
	}
	req := sip.NewRequest(sip.INVITE, to)
	req.SetTransport("WS")
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: u.user, Host: u.k.Domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(10))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: to, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Route", "<sip:"+u.k.TCPAddr+";transport=ws;lr>"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(u.sdp("sendrecv"))
	d, err := u.dialogs.WriteInvite(ctx, req)
	if err != nil {
		t.Fatalf("INVITE %s: %v", target, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func (u *testUA) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		// re-INVITE: answer the offered direction
		u.reinvites.Add(1)
		dir := "sendrecv"
		for _, line := range strings.Split(string(req.Body()), "\n") {
			switch strings.TrimSpace(line) {
			case "a=sendonly":
				dir = "recvonly"
			case "a=recvonly":
				dir = "sendonly"
			case "a=inactive":
				dir = "inactive"
			}
		}
		u.respond(tx, req, 200, "OK", u.sdp(dir), "")
		return
	}

	u.mu.Lock()
	u.invites = append(u.invites, req)
	u.mu.Unlock()

	tag := sip.GenerateTagN(16)
	u.respond(tx, req, 180, "Ringing", nil, tag)
	if u.ring.Load() {
		// ring until the caller cancels (sipgo answers the CANCEL with 200
		// and the INVITE with 487); give up eventually
		select {
		case <-tx.Done():
		case <-time.After(15 * time.Second):
			u.respond(tx, req, 480, "Temporarily Unavailable", nil, tag)
		}
		return
	}
	u.respond(tx, req, 200, "OK", u.sdp("sendrecv"), tag)
}

// respond sends a response with the given To tag (if any), the UA's
// Contact on 1xx/2xx to INVITE, and an SDP body if given.
func (u *testUA) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, sdp []byte, tag string) {
	res := sip.NewResponseFromRequest(req, code, reason, sdp)
	if tag != "" {
		res.To().Params.Add("tag", tag)
	}
	if req.IsInvite() && code > 100 && code < 300 {
		contact := u.contact
		res.AppendHeader(&contact)
	}
	if sdp != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	// a failed send shows up as a failed SIPp run; no t.Log here, as this
	// may run after the test has ended
	_ = tx.Respond(res)
}

func (u *testUA) sdp(dir string) []byte {
	v := u.sdpVer.Add(1)
	return []byte(fmt.Sprintf("v=0\r\no=- 4242 %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=%s\r\n", v, dir))
}

func (u *testUA) lastInvite(t testing.TB) *sip.Request {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.invites) == 0 {
		t.Fatal("the UA received no INVITE")
	}
	return u.invites[len(u.invites)-1]
}

// logMessage puts a SIP message's start line and headers in the verbose
// test output (what Kamailio adds and rewrites is part of what these tests
// document).
func logMessage(t testing.TB, title string, m sip.Message) {
	t.Helper()
	s := m.String()
	if i := strings.Index(s, "\r\n\r\n"); i >= 0 {
		s = s[:i]
	}
	t.Logf("%s:\n%s", title, strings.ReplaceAll(s, "\r\n", "\n"))
}
