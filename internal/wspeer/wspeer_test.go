package wspeer

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

const (
	testInstance = "<urn:uuid:00000000-0000-4000-8000-000000000001>"
	offerSDP     = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"
	answerSDP    = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\n"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testUA is a native sipgo user agent that talks to the peer over one
// WebSocket connection, like a browser UA: its contact host is .invalid and
// it has no listener, so the peer can reach it only over that connection.
type testUA struct {
	t      *testing.T
	peer   *Peer
	user   string
	dest   string // peer host:port
	ua     *sipgo.UserAgent
	client *sipgo.Client

	invites  chan *sip.Request
	acks     chan *sip.Request
	byes     chan *sip.Request
	inDialog chan *sip.Request // re-INVITE, INFO, UPDATE, OPTIONS
	// answer decides how an incoming INVITE is answered: it returns the
	// final code (0 = stay ringing until cancelled).
	answer func(req *sip.Request) int
}

func newTestUA(t *testing.T, p *Peer, user string) *testUA {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(user),
		sipgo.WithUserAgentHostname(p.Realm()),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(quiet),
			// Late provisional responses (see TestOutboundCallCancelled).
			sip.WithTransactionLayerUnhandledResponseHandler(func(*sip.Response) {}),
		),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ua.Close() })
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("abcd.invalid"), sipgo.WithClientLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	u := &testUA{
		t: t, peer: p, user: user, ua: ua, client: client,
		dest:     strings.TrimPrefix(p.URL(), "ws://"),
		invites:  make(chan *sip.Request, 8),
		acks:     make(chan *sip.Request, 8),
		byes:     make(chan *sip.Request, 8),
		inDialog: make(chan *sip.Request, 8),
		answer:   func(*sip.Request) int { return 200 },
	}
	tag := sip.GenerateTagN(8)
	ok200 := func(req *sip.Request, tx sip.ServerTransaction) {
		u.inDialog <- req.Clone()
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		if req.IsInvite() {
			res.AppendHeader(&sip.ContactHeader{Address: u.contactURI()})
			res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
			res.SetBody([]byte(answerSDP))
		}
		_ = tx.Respond(res)
	}
	srv.OnInfo(ok200)
	srv.OnUpdate(ok200)
	srv.OnOptions(ok200)
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		if _, ok := req.To().Params.Get("tag"); ok {
			ok200(req, tx) // re-INVITE
			return
		}
		u.invites <- req.Clone()
		respond := func(code int, reason string, body []byte) {
			res := sip.NewResponseFromRequest(req, code, reason, body)
			res.To().Params.Add("tag", tag)
			if code >= 180 {
				res.AppendHeader(&sip.ContactHeader{Address: u.contactURI()})
			}
			if body != nil {
				res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
			}
			if err := tx.Respond(res); err != nil {
				t.Errorf("UA respond %d: %v", code, err)
			}
		}
		respond(180, "Ringing", nil)
		switch code := u.answer(req); code {
		case 0:
			<-tx.Done() // sipgo answers CANCEL with 200 and the INVITE with 487
		case 200:
			respond(200, "OK", []byte(answerSDP))
		default:
			respond(code, "Nope", nil)
		}
	})
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { u.acks <- req.Clone() })
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		u.byes <- req.Clone()
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	return u
}

func (u *testUA) contactURI() sip.Uri {
	return sip.Uri{Scheme: "sip", User: u.user, Host: "abcd.invalid", UriParams: sip.HeaderParams{{K: "transport", V: "ws"}}}
}

func (u *testUA) aor() sip.Uri {
	return sip.Uri{Scheme: "sip", User: u.user, Host: u.peer.Realm()}
}

// newRequest builds an out-of-dialog request sent to the peer over WS.
func (u *testUA) newRequest(method sip.RequestMethod, ruri sip.Uri, to sip.Uri) *sip.Request {
	req := sip.NewRequest(method, ruri)
	from := &sip.FromHeader{Address: u.aor()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: to})
	req.SetTransport("WS")
	req.SetDestination(u.dest)
	return req
}

// register REGISTERs with an RFC 5626 contact and answers a digest
// challenge with password. It returns the final response.
func (u *testUA) register(ctx context.Context, password string, expires int) *sip.Response {
	u.t.Helper()
	req := u.newRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: u.peer.Realm()}, u.aor())
	req.AppendHeader(sip.NewHeader("Contact",
		fmt.Sprintf(`<sip:%s@abcd.invalid;transport=ws;ob>;+sip.instance="%s";reg-id=1`, u.user, testInstance)))
	req.AppendHeader(sip.NewHeader("Supported", "path, outbound, gruu"))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	res, err := u.client.Do(ctx, req)
	if err != nil {
		u.t.Fatalf("REGISTER: %v", err)
	}
	if res.StatusCode == 401 {
		res, err = u.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: u.user, Password: password})
		if err != nil {
			u.t.Fatalf("REGISTER with credentials: %v", err)
		}
	}
	return res
}

func TestRegisterDigest(t *testing.T) {
	for _, alg := range []string{"MD5", "SHA-256"} {
		t.Run(alg, func(t *testing.T) {
			ctx := testCtx(t)
			p := Start(t, Config{Users: map[string]string{"1001": "secret"}, Algorithm: alg, FlowTimer: 25})
			u := newTestUA(t, p, "1001")

			res := u.register(ctx, "secret", 600)
			if res.StatusCode != 200 {
				t.Fatalf("REGISTER: got %d, want 200", res.StatusCode)
			}
			if got := res.GetHeader("Require"); got == nil || got.Value() != "outbound" {
				t.Errorf("Require = %v, want outbound", got)
			}
			if got := res.GetHeader("Flow-Timer"); got == nil || got.Value() != "25" {
				t.Errorf("Flow-Timer = %v, want 25", got)
			}
			if c := res.Contact(); c == nil || c.Params.GetOr("expires", "") != "600" {
				t.Errorf("Contact in 200 = %v, want expires=600", c)
			}

			reg, err := p.WaitRegistered(ctx, "1001")
			if err != nil {
				t.Fatal(err)
			}
			if reg.Instance != testInstance || reg.RegID != 1 || reg.Expires != 600 || !reg.Connected {
				t.Errorf("registration = %+v", reg)
			}
			if reg.ContactURI.Host != "abcd.invalid" || !strings.Contains(reg.Supported, "outbound") {
				t.Errorf("registration contact/supported = %v / %q", reg.ContactURI.String(), reg.Supported)
			}

			// The peer saw REGISTER twice; the second carried credentials with
			// the configured algorithm.
			var regs []*sip.Request
			for _, r := range p.Requests() {
				if r.Method == sip.REGISTER {
					regs = append(regs, r)
				}
			}
			if len(regs) != 2 {
				t.Fatalf("got %d REGISTERs, want 2", len(regs))
			}
			auth := regs[1].GetHeader("Authorization")
			if auth == nil || !strings.Contains(auth.Value(), "algorithm="+alg) {
				t.Errorf("Authorization = %v", auth)
			}
			if regs[1].CSeq().SeqNo != regs[0].CSeq().SeqNo+1 {
				t.Errorf("CSeq %d then %d", regs[0].CSeq().SeqNo, regs[1].CSeq().SeqNo)
			}

			// A wrong password is refused.
			u2 := newTestUA(t, p, "1001")
			if res := u2.register(ctx, "wrong", 600); res.StatusCode != 403 {
				t.Errorf("wrong password: got %d, want 403", res.StatusCode)
			}

			// Unregister.
			if res := u.register(ctx, "secret", 0); res.StatusCode != 200 {
				t.Fatalf("unREGISTER: got %d", res.StatusCode)
			}
			if err := p.WaitUnregistered(ctx, "1001"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestInboundCall: the peer calls the registered UA over the UA's own
// WebSocket connection (its contact host is .invalid and it listens
// nowhere), the UA answers, the peer ACKs, re-INVITEs, sends INFO and hangs
// up.
func TestInboundCall(t *testing.T) {
	ctx := testCtx(t)
	p := Start(t, Config{})
	u := newTestUA(t, p, "1001")
	if res := u.register(ctx, "", 600); res.StatusCode != 200 {
		t.Fatalf("REGISTER: %d", res.StatusCode)
	}

	c, err := p.Call(ctx, "1001", offerSDP, WithRecordRoute())
	if err != nil {
		t.Fatal(err)
	}
	if c.Final().StatusCode != 200 || string(c.Final().Body()) != answerSDP {
		t.Fatalf("final = %d %q", c.Final().StatusCode, c.Final().Body())
	}
	if got := c.Provisional(); len(got) == 0 || got[len(got)-1] != 180 {
		t.Errorf("provisional = %v, want ... 180", got)
	}
	inv := <-u.invites
	if inv.Recipient.Host != "abcd.invalid" || string(inv.Body()) != offerSDP {
		t.Errorf("INVITE at UA: %s", inv.StartLine())
	}
	if rr := inv.RecordRoute(); rr == nil || rr.Address.Port != mustPort(t, p) {
		t.Errorf("INVITE Record-Route = %v", rr)
	}
	if err := c.Ack(); err != nil {
		t.Fatal(err)
	}
	ack := <-u.acks
	if ack.CSeq().SeqNo != inv.CSeq().SeqNo || ack.CSeq().MethodName != sip.ACK {
		t.Errorf("ACK CSeq %v, INVITE CSeq %v", ack.CSeq(), inv.CSeq())
	}
	if tag, _ := ack.To().Params.Get("tag"); tag == "" {
		t.Error("ACK without To tag")
	}
	// The peer's own Record-Route is not in its route set.
	if ack.Route() != nil {
		t.Errorf("ACK has Route %v", ack.Route())
	}

	// Bye: in-dialog, CSeq incremented.
	if err := c.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	bye := <-u.byes
	if bye.CSeq().SeqNo != inv.CSeq().SeqNo+1 {
		t.Errorf("BYE CSeq %d, INVITE CSeq %d", bye.CSeq().SeqNo, inv.CSeq().SeqNo)
	}
	if bye.CallID().Value() != inv.CallID().Value() {
		t.Error("BYE Call-ID differs")
	}

	// Second call: mid-call requests from the peer, then the UA hangs up.
	c, err = p.Call(ctx, "1001", offerSDP, WithRecordRoute(), WithCaller("alice", "Alice"))
	if err != nil || c.Final().StatusCode != 200 {
		t.Fatalf("second call: %v", err)
	}
	inv = <-u.invites
	if inv.From().Address.User != "alice" || inv.From().DisplayName != "Alice" {
		t.Errorf("From = %s", inv.From().Value())
	}
	if err := c.Ack(); err != nil {
		t.Fatal(err)
	}
	<-u.acks
	seq := inv.CSeq().SeqNo
	res, err := c.Reinvite(ctx, offerSDP)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("re-INVITE: %v %v", res, err)
	}
	if r := <-u.inDialog; r.Method != sip.INVITE || r.CSeq().SeqNo != seq+1 {
		t.Errorf("re-INVITE at UA: %s CSeq %v", r.Method, r.CSeq())
	}
	if a := <-u.acks; a.CSeq().SeqNo != seq+1 {
		t.Errorf("ACK for re-INVITE has CSeq %v", a.CSeq())
	}
	for i, send := range []func() (*sip.Response, error){
		func() (*sip.Response, error) {
			return c.Info(ctx, "application/dtmf-relay", "Signal=5\r\nDuration=160\r\n")
		},
		func() (*sip.Response, error) { return c.Update(ctx) },
		func() (*sip.Response, error) { return c.Options(ctx) },
	} {
		res, err := send()
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("request %d: %v %v", i, res, err)
		}
		if r := <-u.inDialog; r.CSeq().SeqNo != seq+2+uint32(i) {
			t.Errorf("%s CSeq %v", r.Method, r.CSeq())
		}
	}

	// The UA hangs up, following the route set the peer's Record-Route made.
	byeReq := sip.NewRequest(sip.BYE, inv.Contact().Address)
	from := &sip.FromHeader{Address: inv.To().Address}
	from.Params.Add("tag", func() string { t, _ := c.Final().To().Params.Get("tag"); return t }())
	byeReq.AppendHeader(from)
	to := &sip.ToHeader{Address: inv.From().Address, Params: inv.From().Params.Clone()}
	byeReq.AppendHeader(to)
	byeReq.AppendHeader(sip.HeaderClone(inv.CallID()))
	byeReq.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.BYE})
	byeReq.AppendHeader(&sip.RouteHeader{Address: inv.RecordRoute().Address})
	byeReq.SetTransport("WS")
	byeReq.SetDestination(u.dest)
	if res, err := u.client.Do(ctx, byeReq); err != nil || res.StatusCode != 200 {
		t.Fatalf("UA BYE: %v %v", res, err)
	}
	if err := c.WaitBye(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.Received(); len(got) != 1 || got[0].Method != sip.BYE || got[0].Route() == nil {
		t.Errorf("in-dialog requests at peer: %v", got)
	}
}

// TestInboundCallCancel: CallAsync returns on 180, Cancel yields 487.
func TestInboundCallCancel(t *testing.T) {
	ctx := testCtx(t)
	p := Start(t, Config{})
	u := newTestUA(t, p, "1001")
	u.answer = func(*sip.Request) int { return 0 }
	if res := u.register(ctx, "", 600); res.StatusCode != 200 {
		t.Fatalf("REGISTER: %d", res.StatusCode)
	}
	c, err := p.CallAsync(ctx, "1001", offerSDP)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Provisional(); got[len(got)-1] != 180 {
		t.Fatalf("provisional = %v", got)
	}
	final, err := c.Cancel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if final.StatusCode != 487 {
		t.Fatalf("final = %d, want 487", final.StatusCode)
	}
	var methods []string
	for _, r := range p.Requests() {
		methods = append(methods, string(r.Method))
	}
	if strings.Join(methods, " ") != "REGISTER" {
		t.Errorf("peer received %v", methods)
	}
}

// TestOutboundCall: the UA calls a non-registered user; the peer challenges
// (407), answers per OnInvite with Record-Route, gets ACK and BYE.
func TestOutboundCall(t *testing.T) {
	ctx := testCtx(t)
	p := Start(t, Config{Users: map[string]string{"1001": "secret"}, Algorithm: "SHA-256", ProxyAuth: true})
	p.OnInvite("echo", Answer{Provisional: []int{180}, Code: 200, SDP: answerSDP, RecordRoute: true})
	u := newTestUA(t, p, "1001")
	if res := u.register(ctx, "secret", 600); res.StatusCode != 200 {
		t.Fatalf("REGISTER: %d", res.StatusCode)
	}

	echo := sip.Uri{Scheme: "sip", User: "echo", Host: p.Realm()}
	inv := u.newRequest(sip.INVITE, echo, echo)
	inv.AppendHeader(&sip.ContactHeader{Address: u.contactURI()})
	inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	inv.SetBody([]byte(offerSDP))
	res, err := u.client.Do(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 407 {
		t.Fatalf("INVITE: got %d, want 407", res.StatusCode)
	}
	res, err = u.client.DoDigestAuth(ctx, inv, res, sipgo.DigestAuth{Username: "1001", Password: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || string(res.Body()) != answerSDP {
		t.Fatalf("INVITE: got %d %q", res.StatusCode, res.Body())
	}
	rr := res.RecordRoute()
	if rr == nil {
		t.Fatal("200 without Record-Route")
	}

	sc, err := p.WaitCall(ctx, "echo")
	if err != nil {
		t.Fatal(err)
	}
	if sc.Request().GetHeader("Proxy-Authorization") == nil {
		t.Error("accepted INVITE without Proxy-Authorization")
	}

	// The UA's ACK and BYE follow the route set.
	inDialog := func(method sip.RequestMethod, seq uint32) *sip.Request {
		req := sip.NewRequest(method, res.Contact().Address)
		req.AppendHeader(sip.HeaderClone(inv.From()))
		req.AppendHeader(sip.HeaderClone(res.To()))
		req.AppendHeader(sip.HeaderClone(inv.CallID()))
		req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
		req.AppendHeader(&sip.RouteHeader{Address: rr.Address})
		req.SetTransport("WS")
		req.SetDestination(u.dest)
		return req
	}
	seq := inv.CSeq().SeqNo
	if err := u.client.WriteRequest(inDialog(sip.ACK, seq)); err != nil {
		t.Fatal(err)
	}
	if err := sc.WaitAck(ctx); err != nil {
		t.Fatal(err)
	}
	if cancelled, err := sc.WasCancelled(ctx); err != nil || cancelled {
		t.Errorf("WasCancelled = %v, %v", cancelled, err)
	}
	byeRes, err := u.client.Do(ctx, inDialog(sip.BYE, seq+1))
	if err != nil || byeRes.StatusCode != 200 {
		t.Fatalf("BYE: %v %v", byeRes, err)
	}
	if err := sc.WaitBye(ctx); err != nil {
		t.Fatal(err)
	}
	got := sc.Received()
	if len(got) != 2 || got[0].Method != sip.ACK || got[1].Method != sip.BYE || got[1].Route() == nil {
		t.Errorf("in-dialog requests: %v", got)
	}
}

func mustPort(t *testing.T, p *Peer) int {
	_, port, err := net.SplitHostPort(strings.TrimPrefix(p.URL(), "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return n
}

// rawUA is a bare WebSocket SIP client for frame-level checks.
type rawUA struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialRaw(t *testing.T, ctx context.Context, p *Peer) *rawUA {
	t.Helper()
	conn, res, err := websocket.Dial(ctx, p.URL(), &websocket.DialOptions{Subprotocols: []string{"sip"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Header.Get("Sec-WebSocket-Protocol"); got != "sip" {
		t.Errorf("subprotocol %q", got)
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	return &rawUA{t: t, conn: conn}
}

func (r *rawUA) write(ctx context.Context, s string) {
	r.t.Helper()
	if err := r.conn.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawUA) read(ctx context.Context) string {
	r.t.Helper()
	_, b, err := r.conn.Read(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

func rawRequest(method, ruri, user string, seq int, extra string) string {
	return fmt.Sprintf("%s %s SIP/2.0\r\n"+
		"Via: SIP/2.0/WS abcd.invalid;branch=z9hG4bK%s\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:%s@agentbar.test>;tag=raw1\r\n"+
		"To: <sip:%s@agentbar.test>\r\n"+
		"Call-ID: raw-%s-%d\r\n"+
		"CSeq: %d %s\r\n"+
		"%s"+
		"Content-Length: 0\r\n\r\n",
		method, ruri, sip.GenerateTagN(10), user, user, method, seq, seq, method, extra)
}

// TestKeepaliveAndFlowReplacement works on raw WebSocket frames: CRLF
// keep-alives, dropped connections and a re-registration on a new
// connection that calls then use.
func TestKeepaliveAndFlowReplacement(t *testing.T) {
	ctx := testCtx(t)
	p := Start(t, Config{})
	r := dialRaw(t, ctx, p)

	r.write(ctx, "\r\n\r\n")
	if got := r.read(ctx); got != "\r\n" {
		t.Fatalf("keep-alive answer %q", got)
	}
	p.SetRespondToKeepalive(false)
	r.write(ctx, "\r\n\r\n")
	r.write(ctx, rawRequest("OPTIONS", "sip:agentbar.test", "1001", 1, ""))
	if got := r.read(ctx); !strings.HasPrefix(got, "SIP/2.0 200") {
		t.Fatalf("after unanswered keep-alive got %q", got)
	}
	if n := p.Keepalives(); n != 2 {
		t.Errorf("Keepalives = %d", n)
	}

	contact := fmt.Sprintf(`Contact: <sip:1001@abcd.invalid;transport=ws>;+sip.instance="%s";reg-id=1`+"\r\n", testInstance)
	r.write(ctx, rawRequest("REGISTER", "sip:agentbar.test", "1001", 2, contact))
	if got := r.read(ctx); !strings.HasPrefix(got, "SIP/2.0 200") {
		t.Fatalf("REGISTER: %q", got)
	}
	if _, err := p.WaitRegistered(ctx, "1001"); err != nil {
		t.Fatal(err)
	}

	p.DropConnections()
	if _, _, err := r.conn.Read(ctx); err == nil {
		t.Fatal("connection survived DropConnections")
	}
	if err := p.WaitUnregistered(ctx, "1001"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CallAsync(ctx, "1001", offerSDP); err == nil {
		t.Fatal("call to unregistered user succeeded")
	}

	r2 := dialRaw(t, ctx, p)
	r2.write(ctx, rawRequest("REGISTER", "sip:agentbar.test", "1001", 3, contact))
	if got := r2.read(ctx); !strings.HasPrefix(got, "SIP/2.0 200") {
		t.Fatalf("REGISTER: %q", got)
	}
	done := make(chan error, 1)
	var call *Call
	go func() {
		var err error
		call, err = p.Call(ctx, "1001", offerSDP)
		done <- err
	}()
	inv := r2.read(ctx)
	if !strings.HasPrefix(inv, "INVITE sip:1001@abcd.invalid;transport=ws SIP/2.0") {
		t.Fatalf("got %q", inv)
	}
	msg, err := sip.ParseMessage([]byte(inv))
	if err != nil {
		t.Fatal(err)
	}
	res := sip.NewResponseFromRequest(msg.(*sip.Request), 486, "Busy Here", nil)
	r2.write(ctx, res.String())
	if got := r2.read(ctx); !strings.HasPrefix(got, "ACK ") {
		t.Fatalf("want ACK for 486, got %q", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if call.Final().StatusCode != 486 {
		t.Errorf("final %d", call.Final().StatusCode)
	}
}

// TestOutboundCallCancelled: the UA cancels while the peer delays its
// answer; the 487 carries the same To tag as the 180.
func TestOutboundCallCancelled(t *testing.T) {
	ctx := testCtx(t)
	p := Start(t, Config{})
	p.OnInvite("", Answer{Provisional: []int{180}, EarlySDP: answerSDP, Delay: time.Hour})
	u := newTestUA(t, p, "1001")

	slow := sip.Uri{Scheme: "sip", User: "slow", Host: p.Realm()}
	inv := u.newRequest(sip.INVITE, slow, slow)
	inv.AppendHeader(&sip.ContactHeader{Address: u.contactURI()})
	inv.SetBody(nil)
	tx, err := u.client.TransactionRequest(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Terminate()
	// sipgo's transaction layer handles each message in its own goroutine,
	// so 100, 180 and 183 may be passed up in any order.
	var codes []int
	tags := map[string]bool{}
	collect := func(res *sip.Response) {
		codes = append(codes, res.StatusCode)
		if res.StatusCode > 100 {
			tag, _ := res.To().Params.Get("tag")
			tags[tag] = true
		}
		if res.StatusCode == 183 && string(res.Body()) != answerSDP {
			t.Errorf("183 body %q", res.Body())
		}
	}
	for len(tags) == 0 {
		select {
		case res := <-tx.Responses():
			collect(res)
		case <-ctx.Done():
			t.Fatal("no 18x response")
		}
	}
	sc, err := p.WaitCall(ctx, "slow")
	if err != nil {
		t.Fatal(err)
	}

	cancel := sip.NewRequest(sip.CANCEL, inv.Recipient)
	cancel.AppendHeader(inv.Via().Clone())
	cancel.AppendHeader(sip.HeaderClone(inv.From()))
	cancel.AppendHeader(sip.HeaderClone(inv.To()))
	cancel.AppendHeader(sip.HeaderClone(inv.CallID()))
	cancel.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	cancel.SetTransport("WS")
	cancel.SetDestination(u.dest)
	if res, err := u.client.Do(ctx, cancel, sipgo.ClientRequestBuild); err != nil || res.StatusCode != 200 {
		t.Fatalf("CANCEL: %v %v", res, err)
	}
	var final *sip.Response
	for final == nil {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				collect(res)
			} else {
				final = res
			}
		case <-ctx.Done():
			t.Fatal("no final response")
		}
	}
	if final.StatusCode != 487 {
		t.Fatalf("final %d, want 487", final.StatusCode)
	}
	finalTag, _ := final.To().Params.Get("tag")
	if len(tags) != 1 || !tags[finalTag] {
		t.Errorf("487 To tag %q, provisional To tags %v", finalTag, tags)
	}
	if cancelled, err := sc.WasCancelled(ctx); err != nil || !cancelled {
		t.Errorf("WasCancelled = %v, %v", cancelled, err)
	}
	if sc.FinalCode() != 0 {
		t.Errorf("FinalCode = %d", sc.FinalCode())
	}
	// Reordering in sipgo may even drop a provisional response that reaches
	// the transaction after the final one.
	for _, code := range codes {
		if code != 100 && code != 180 && code != 183 {
			t.Errorf("provisional codes %v", codes)
		}
	}
}
