package sipedge

import (
	"bufio"
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	gosip "github.com/emiago/sipgo/sip"
)

// fakeUpstream is a UDP socket standing in for the registrar, for tests that
// check the exact bytes the edge relays.
type fakeUpstream struct {
	t    testing.TB
	c    *net.UDPConn
	edge *net.UDPAddr // where the edge's socket is, learned from its first datagram
}

func newFakeUpstream(t testing.TB) *fakeUpstream {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &fakeUpstream{t: t, c: c}
}

// uri is the upstream URI to configure the edge with.
func (u *fakeUpstream) uri() string {
	return "sip:" + u.c.LocalAddr().String() + ";transport=udp"
}

// recv returns the next datagram from the edge.
func (u *fakeUpstream) recv() string {
	u.t.Helper()
	buf := make([]byte, 65535)
	u.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, from, err := u.c.ReadFromUDP(buf)
	if err != nil {
		u.t.Fatalf("upstream read: %v", err)
	}
	u.edge = from
	return string(buf[:n])
}

// send sends a datagram to the edge.
func (u *fakeUpstream) send(msg string) {
	u.t.Helper()
	if u.edge == nil {
		u.t.Fatal("upstream: edge address not known yet")
	}
	if _, err := u.c.WriteToUDP([]byte(msg), u.edge); err != nil {
		u.t.Fatalf("upstream write: %v", err)
	}
}

// reply answers a raw request as a UAS would, copying Via, From, To,
// Call-ID and CSeq.
func reply(t testing.TB, raw string, code int, reason string) string {
	t.Helper()
	msg, err := gosip.NewParser().ParseSIP([]byte(raw))
	if err != nil {
		t.Fatalf("parse %q: %v", startLine(raw), err)
	}
	req, ok := msg.(*gosip.Request)
	if !ok {
		t.Fatalf("not a request: %q", startLine(raw))
	}
	return gosip.NewResponseFromRequest(req, code, reason, nil).String()
}

// registered is an edge with one page registered as 1001 through a fake upstream.
type registered struct {
	te   *testEdge
	up   *fakeUpstream
	page *page
	path string // the Path URI the edge added, without angle brackets
	tok  string // the page's flow token
}

func registerPage(t *testing.T) *registered {
	t.Helper()
	up := newFakeUpstream(t)
	te := startEdge(t, up.uri(), nil)
	p := dialPage(t, te.url(), "tok-1001", nil)
	p.send(register("1001", "z9hG4bKreg1"))
	req := up.recv()
	path := strings.Trim(header(req, "Path"), "<>")
	tok, _, _ := strings.Cut(strings.TrimPrefix(path, "sip:"), "@")
	if !validToken(tok) {
		t.Fatalf("Path %q carries no flow token", path)
	}
	up.send(reply(t, req, 200, "OK"))
	if res := p.recv(); startLine(res) != "SIP/2.0 200 OK" {
		t.Fatalf("page got %q, want 200", startLine(res))
	}
	return &registered{te: te, up: up, page: p, path: path, tok: tok}
}

func TestRelayRegister(t *testing.T) {
	up := newFakeUpstream(t)
	te := startEdge(t, up.uri(), nil)
	p := dialPage(t, te.url(), "tok-1001", nil)
	reg := strings.Replace(register("1001", "z9hG4bKreg1"), "Supported: path", "Supported: path\r\nPath: <sip:evil@203.0.113.9;lr>", 1)
	p.send(reg)
	req := up.recv()

	l := te.up.current()
	host, port := l.local()
	edge := host + ":" + strconv.Itoa(port)
	vias := headers(req, "Via")
	if len(vias) != 2 || !strings.HasPrefix(vias[0], "SIP/2.0/UDP "+edge+";branch="+ownBranchPrefix) || !strings.HasSuffix(vias[0], ";rport") {
		t.Fatalf("Vias %q: want ours (UDP %s, our branch, rport) on top of the page's", vias, edge)
	}
	if vias[1] != "SIP/2.0/WS page.invalid;branch=z9hG4bKreg1;received=127.0.0.1" {
		t.Errorf("page's Via %q: want received=127.0.0.1 added", vias[1])
	}
	paths := headers(req, "Path")
	if len(paths) != 1 || !strings.HasSuffix(paths[0], "@"+edge+";transport=udp;lr>") {
		t.Fatalf("Path %q: want only ours, <sip:<token>@%s;transport=udp;lr>", paths, edge)
	}
	if mf := header(req, "Max-Forwards"); mf != "69" {
		t.Errorf("Max-Forwards %q, want 69", mf)
	}
	if rr := header(req, "Record-Route"); rr != "" {
		t.Errorf("REGISTER got Record-Route %q", rr)
	}
	branch, _ := strings.CutPrefix(strings.Split(vias[0], ";")[1], "branch=")
	tok, ok := tokenOfBranch(branch)
	if !ok || !strings.Contains(paths[0], "<sip:"+tok+"@") {
		t.Fatalf("branch %q and Path %q do not carry the same flow token", branch, paths[0])
	}

	up.send(reply(t, req, 200, "OK"))
	res := p.recv()
	if startLine(res) != "SIP/2.0 200 OK" {
		t.Fatalf("page got %q", startLine(res))
	}
	if vias := headers(res, "Via"); len(vias) != 1 || !strings.HasPrefix(vias[0], "SIP/2.0/WS page.invalid;branch=z9hG4bKreg1") {
		t.Fatalf("page got Vias %q, want only its own", vias)
	}
}

func TestRelayCallToPage(t *testing.T) {
	r := registerPage(t)
	l := r.te.up.current()
	host, port := l.local()
	upAddr := r.up.c.LocalAddr().String()
	invite := sipMsg(
		"INVITE sip:1001@page.invalid;transport=ws SIP/2.0",
		"Via: SIP/2.0/UDP "+upAddr+";branch=z9hG4bKk1",
		"Route: <"+r.path+">",
		"Record-Route: <sip:"+upAddr+";lr>",
		"Max-Forwards: 70",
		"From: <sip:sipp@127.0.0.1>;tag=a1",
		"To: <sip:1001@127.0.0.1>",
		"Call-ID: call-1",
		"CSeq: 1 INVITE",
		"Contact: <sip:sipp@127.0.0.1:5070>",
	)
	r.up.send(invite)
	got := r.page.recv()
	if startLine(got) != "INVITE sip:1001@page.invalid;transport=ws SIP/2.0" {
		t.Fatalf("page got %q", startLine(got))
	}
	if rt := headers(got, "Route"); len(rt) != 0 {
		t.Errorf("Route %q left in the request to the page", rt)
	}
	rrs := headers(got, "Record-Route")
	wantRR := "<sip:" + r.tok + "@" + host + ":" + strconv.Itoa(port) + ";transport=udp;lr>"
	if len(rrs) != 2 || rrs[0] != wantRR {
		t.Errorf("Record-Route %q, want %s on top", rrs, wantRR)
	}
	vias := headers(got, "Via")
	if len(vias) != 2 || !strings.HasPrefix(vias[0], "SIP/2.0/WS "+host+":"+strconv.Itoa(port)+";branch="+ownBranchPrefix+r.tok+"-") {
		t.Fatalf("Vias %q: want the edge's WS Via with the flow's token on top", vias)
	}
	if mf := header(got, "Max-Forwards"); mf != "69" {
		t.Errorf("Max-Forwards %q, want 69", mf)
	}

	// The page answers; the upstream gets the response without our Via.
	r.page.send(reply(t, got, 180, "Ringing"))
	res := r.up.recv()
	if startLine(res) != "SIP/2.0 180 Ringing" {
		t.Fatalf("upstream got %q", startLine(res))
	}
	if vias := headers(res, "Via"); len(vias) != 1 || vias[0] != "SIP/2.0/UDP "+upAddr+";branch=z9hG4bKk1" {
		t.Fatalf("upstream got Vias %q, want only its own", vias)
	}

	// A response naming another flow's branch is dropped; the next one passes.
	forged := strings.Replace(reply(t, got, 200, "OK"), ownBranchPrefix+r.tok, ownBranchPrefix+newToken(), 1)
	r.page.send(forged)
	r.page.send(reply(t, got, 486, "Busy Here"))
	if res := r.up.recv(); startLine(res) != "SIP/2.0 486 Busy Here" {
		t.Fatalf("upstream got %q, want the 486 (the forged 200 dropped)", startLine(res))
	}

	// An in-dialog request from the page routed through us loses our Route.
	bye := sipMsg(
		"BYE sip:sipp@127.0.0.1:5070 SIP/2.0",
		"Via: SIP/2.0/WS page.invalid;branch=z9hG4bKbye1",
		"Route: "+wantRR,
		"Route: <sip:"+upAddr+";lr>",
		"Max-Forwards: 70",
		"From: <sip:1001@127.0.0.1>;tag=b1",
		"To: <sip:sipp@127.0.0.1>;tag=a1",
		"Call-ID: call-1",
		"CSeq: 2 BYE",
	)
	r.page.send(bye)
	req := r.up.recv()
	if rt := headers(req, "Route"); len(rt) != 1 || rt[0] != "<sip:"+upAddr+";lr>" {
		t.Fatalf("BYE upstream has Route %q, want only the upstream's", rt)
	}
	if rr := headers(req, "Record-Route"); len(rr) != 0 {
		t.Fatalf("in-dialog BYE got Record-Route %q", rr)
	}
}

func TestUpstreamRequestRefused(t *testing.T) {
	r := registerPage(t)
	l := r.te.up.current()
	host, port := l.local()
	edge := host + ":" + strconv.Itoa(port)
	upAddr := r.up.c.LocalAddr().String()
	options := func(route, maxForwards string) string {
		lines := []string{
			"OPTIONS sip:1001@page.invalid SIP/2.0",
			"Via: SIP/2.0/UDP " + upAddr + ";branch=z9hG4bKo" + strconv.Itoa(len(route)) + maxForwards,
		}
		if route != "" {
			lines = append(lines, "Route: <"+route+">")
		}
		return sipMsg(append(lines,
			"Max-Forwards: "+maxForwards,
			"From: <sip:sipp@127.0.0.1>;tag=a1",
			"To: <sip:1001@127.0.0.1>",
			"Call-ID: opt-1",
			"CSeq: 1 OPTIONS",
		)...)
	}
	for _, tc := range []struct {
		name       string
		route, mf  string
		wantStatus string
	}{
		{"unknown flow", "sip:" + newToken() + "@" + edge + ";transport=udp;lr", "70", "SIP/2.0 430 Flow Failed"},
		{"tampered token", "sip:not-a-token@" + edge + ";transport=udp;lr", "70", "SIP/2.0 403 Forbidden (bad flow token)"},
		{"no route to us", "sip:" + r.tok + "@192.0.2.1:5060;lr", "70", "SIP/2.0 404 Not Found (no flow token)"},
		{"no route at all", "", "70", "SIP/2.0 404 Not Found (no flow token)"},
		{"max-forwards 0", r.path, "0", "SIP/2.0 483 Too Many Hops"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.up.send(options(tc.route, tc.mf))
			if got := startLine(r.up.recv()); got != tc.wantStatus {
				t.Fatalf("got %q, want %q", got, tc.wantStatus)
			}
		})
	}

	t.Run("closed flow", func(t *testing.T) {
		r.page.ws.Close(websocket.StatusNormalClosure, "")
		r.te.waitFlow(t, "1001", false)
		r.up.send(options(r.path, "70"))
		if got := startLine(r.up.recv()); got != "SIP/2.0 430 Flow Failed" {
			t.Fatalf("got %q, want 430", got)
		}
	})
}

func TestPageRequestRefused(t *testing.T) {
	up := newFakeUpstream(t)
	te := startEdge(t, up.uri(), nil)
	p := dialPage(t, te.url(), "tok-1001", nil)
	options := func(branch string, edit func([]string) []string) string {
		lines := []string{
			"OPTIONS sip:127.0.0.1 SIP/2.0",
			"Via: SIP/2.0/WS page.invalid;branch=" + branch,
			"Max-Forwards: 70",
			"From: <sip:1001@127.0.0.1>;tag=x1",
			"To: <sip:127.0.0.1>",
			"Call-ID: o-" + branch,
			"CSeq: 1 OPTIONS",
		}
		if edit != nil {
			lines = edit(lines)
		}
		return sipMsg(lines...)
	}
	without := func(name string) func([]string) []string {
		return func(ls []string) []string {
			var out []string
			for _, l := range ls {
				if !strings.HasPrefix(l, name+":") {
					out = append(out, l)
				}
			}
			return out
		}
	}
	for _, tc := range []struct {
		name string
		msg  string
		want string
	}{
		{"max-forwards 0", options("z9hG4bKmf", func(ls []string) []string { ls[2] = "Max-Forwards: 0"; return ls }), "SIP/2.0 483 Too Many Hops"},
		{"missing Call-ID", options("z9hG4bKcid", without("Call-ID")), "SIP/2.0 400 Bad Request (missing Call-ID)"},
		{"missing CSeq", options("z9hG4bKcs", without("CSeq")), "SIP/2.0 400 Bad Request (missing CSeq)"},
		{"CSeq method mismatch", options("z9hG4bKcm", func(ls []string) []string { ls[6] = "CSeq: 1 INVITE"; return ls }), "SIP/2.0 400 Bad Request (CSeq method does not match)"},
		{"REGISTER as another user", register("1002", "z9hG4bKother"), "SIP/2.0 403 Forbidden (not your address of record)"},
		{"REGISTER with From of another user", strings.Replace(register("1001", "z9hG4bKother2"), "From: <sip:1001@", "From: <sip:1002@", 1), "SIP/2.0 403 Forbidden (not your address of record)"},
		{"keep-alive ping", "\r\n\r\n", "\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.send(tc.msg)
			got := p.recv()
			ok := startLine(got) == tc.want
			if tc.want == "\r\n" {
				ok = got == tc.want // an RFC 5626 pong
			}
			if !ok {
				t.Fatalf("got %q, want %q", startLine(got), tc.want)
			}
		})
	}

	t.Run("garbage is dropped and the flow stays up", func(t *testing.T) {
		for _, junk := range []string{"hello", "INVITE\r\n\r\n", "SIP/2.0 200 OK\r\n\r\n", "OPTIONS sip:x SIP/2.0\r\nVia: \r\n\r\n"} {
			p.send(junk)
		}
		if err := p.ws.Write(ctxT(t), websocket.MessageBinary, []byte{0, 0xff, 0xfe, '\r', '\n'}); err != nil {
			t.Fatal(err)
		}
		// a stray response (not ours) is dropped too
		p.send("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKnot-ours\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
		p.send(options("z9hG4bKafter", nil))
		if got := up.recv(); startLine(got) != "OPTIONS sip:127.0.0.1 SIP/2.0" || !strings.Contains(got, "z9hG4bKafter") {
			t.Fatalf("upstream got %q, want the OPTIONS sent after the junk", startLine(got))
		}
		if n := te.Flows(); n != 1 {
			t.Fatalf("Flows() = %d, want 1", n)
		}
	})

	t.Run("oversized message closes only that flow", func(t *testing.T) {
		big := dialPage(t, te.url(), "tok-1001", nil)
		big.send(options("z9hG4bKbig", nil) + strings.Repeat("x", DefaultMaxMessageSize))
		ctx := ctxT(t)
		_, _, err := big.ws.Read(ctx)
		if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
			t.Fatalf("read after an oversized message: %v, want close 1009", err)
		}
		te.waitFlow(t, "1001", false)
		p.send(options("z9hG4bKstill", nil))
		if got := up.recv(); !strings.Contains(got, "z9hG4bKstill") {
			t.Fatalf("upstream got %q", startLine(got))
		}
	})
}

func TestRetransmitOverUDP(t *testing.T) {
	up := newFakeUpstream(t)
	te := startEdge(t, up.uri(), nil)
	p := dialPage(t, te.url(), "tok-1001", nil)
	p.send(sipMsg(
		"OPTIONS sip:127.0.0.1 SIP/2.0",
		"Via: SIP/2.0/WS page.invalid;branch=z9hG4bKrtx",
		"Max-Forwards: 70",
		"From: <sip:1001@127.0.0.1>;tag=r1",
		"To: <sip:127.0.0.1>",
		"Call-ID: rtx-1",
		"CSeq: 1 OPTIONS",
	))
	first := up.recv()
	again := up.recv() // Timer E: the edge resends after T1, the page never will
	if first != again {
		t.Fatalf("retransmission differs:\n%s\n---\n%s", first, again)
	}
	up.send(reply(t, first, 200, "OK"))
	if got := p.recv(); startLine(got) != "SIP/2.0 200 OK" {
		t.Fatalf("page got %q", startLine(got))
	}
	// The response ended the transaction: nothing left in flight.
	te.retx.mu.Lock()
	n := len(te.retx.pending)
	te.retx.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d requests still in flight after the final response", n)
	}
}

func TestRetransmitterTimers(t *testing.T) {
	r := newRetransmitter(func([]byte) error { return nil })
	defer r.close()
	r.start("b INVITE", []byte("invite"), true)
	r.start("b OPTIONS", []byte("options"), false)
	r.response("b OPTIONS", 100) // provisional: a non-INVITE keeps going, every T2
	r.response("b INVITE", 100)  // any response stops INVITE retransmissions
	r.response("c OPTIONS", 200) // unknown key: ignored
	r.mu.Lock()
	_, inviteLeft := r.pending["b INVITE"]
	opt := r.pending["b OPTIONS"]
	var interval time.Duration
	if opt != nil {
		interval = opt.interval
	}
	r.mu.Unlock()
	if inviteLeft || opt == nil || interval != t2 {
		t.Fatalf("after 100: INVITE pending %v, OPTIONS pending %v every %v; want INVITE done, OPTIONS every T2", inviteLeft, opt != nil, interval)
	}
	r.response("b OPTIONS", 200)
	r.mu.Lock()
	n := len(r.pending)
	r.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d left in flight after final responses", n)
	}

	sent := make(chan []byte, 16)
	r2 := newRetransmitter(func(b []byte) error { sent <- b; return nil })
	defer r2.close()
	r2.start("d INVITE", []byte("unanswered"), true)
	select {
	case b := <-sent:
		if string(b) != "unanswered" {
			t.Fatalf("resent %q", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no retransmission of the unanswered INVITE")
	}
}

func TestBranchFor(t *testing.T) {
	tok, other := newToken(), newToken()
	parse := func(raw string) *gosip.Request {
		m, err := gosip.NewParser().ParseSIP([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		return m.(*gosip.Request)
	}
	req := func(method, branch, cseq string) *gosip.Request {
		return parse(sipMsg(
			method+" sip:x@127.0.0.1 SIP/2.0",
			"Via: SIP/2.0/WS page.invalid;branch="+branch,
			"From: <sip:1001@127.0.0.1>;tag=f",
			"To: <sip:x@127.0.0.1>",
			"Call-ID: c",
			"CSeq: "+cseq+" "+method,
		))
	}
	invite := branchFor(tok, req("INVITE", "z9hG4bKa", "1"))
	for _, tc := range []struct {
		name string
		got  string
		same bool
	}{
		{"CANCEL of the INVITE", branchFor(tok, req("CANCEL", "z9hG4bKa", "1")), true},
		{"ACK of a non-2xx", branchFor(tok, req("ACK", "z9hG4bKa", "1")), true},
		{"retransmission", branchFor(tok, req("INVITE", "z9hG4bKa", "1")), true},
		{"new transaction", branchFor(tok, req("INVITE", "z9hG4bKb", "2")), false},
		{"other flow", branchFor(other, req("INVITE", "z9hG4bKa", "1")), false},
		{"RFC 2543 peer", branchFor(tok, req("INVITE", "old1", "1")), false},
	} {
		if (tc.got == invite) != tc.same {
			t.Errorf("%s: branch %q vs INVITE %q, same=%v wanted", tc.name, tc.got, invite, tc.same)
		}
	}
	if got, ok := tokenOfBranch(invite); !ok || got != tok {
		t.Fatalf("tokenOfBranch(%q) = %q, %v", invite, got, ok)
	}
	if a, b := branchFor(tok, req("INVITE", "old1", "1")), branchFor(tok, req("CANCEL", "old1", "1")); a != b {
		t.Errorf("RFC 2543 CANCEL branch %q differs from its INVITE's %q", b, a)
	}
	for _, b := range []string{"z9hG4bKa", ownBranchPrefix + "short-x", ownBranchPrefix + strings.Repeat("A", tokenLen) + "-x", ownBranchPrefix + tok} {
		if _, ok := tokenOfBranch(b); ok {
			t.Errorf("tokenOfBranch(%q) accepted", b)
		}
	}
}

func TestParseUpstream(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want target
		bad  bool
	}{
		{in: "sip:127.0.0.1:5060;transport=udp", want: target{transport: "UDP", addr: "127.0.0.1:5060"}},
		{in: "sip:127.0.0.1", want: target{transport: "UDP", addr: "127.0.0.1:5060"}},
		{in: "sip:10.0.0.5:5080;transport=TCP", want: target{transport: "TCP", addr: "10.0.0.5:5080"}},
		{in: "sip:10.0.0.5;transport=ws", want: target{transport: "WS", url: "ws://10.0.0.5:80/"}},
		{in: "sip:[::1]:5062;transport=wss", want: target{transport: "WSS", url: "wss://[::1]:5062/"}},
		{in: "ws://127.0.0.1:8080/", want: target{transport: "WS", url: "ws://127.0.0.1:8080/"}},
		{in: "wss://sbc.example.com/sip", want: target{transport: "WSS", url: "wss://sbc.example.com/sip"}},
		{in: "", bad: true},
		{in: "sips:127.0.0.1", bad: true},
		{in: "sip:127.0.0.1;transport=sctp", bad: true},
		{in: "http://127.0.0.1/", bad: true},
		{in: "ws://", bad: true},
	} {
		got, err := parseUpstream(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("parseUpstream(%q) = %+v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseUpstream(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestTCPFraming(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	l := &tcpLink{c: a, r: bufio.NewReaderSize(a, 512), max: 512}
	msg1 := "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n"
	msg2 := "MESSAGE sip:x SIP/2.0\r\nl: 5\r\n\r\nhello"
	tooBig := "MESSAGE sip:x SIP/2.0\r\nContent-Length: 1000\r\n\r\n"
	go func() {
		b.Write([]byte("\r\n\r\n" + msg1 + "\r\n" + msg2 + tooBig))
	}()
	for _, want := range []string{msg1, msg2} {
		got, err := l.read()
		if err != nil || !bytes.Equal(got, []byte(want)) {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
	if _, err := l.read(); err == nil {
		t.Fatal("a message longer than the limit was accepted")
	}
	if _, err := streamContentLength([]byte("INVITE sip:x SIP/2.0\r\nVia: x\r\n")); err == nil {
		t.Fatal("a stream message without Content-Length was accepted")
	}
}

func TestCloseEndsFlows(t *testing.T) {
	up := newFakeUpstream(t)
	te := startEdge(t, up.uri(), nil)
	p := dialPage(t, te.url(), "tok-1001", nil)
	te.waitFlow(t, "1001", true)
	read := make(chan error, 1)
	ctx := ctxT(t)
	go func() { _, _, err := p.ws.Read(ctx); read <- err }() // as a browser, read the close frame
	if err := te.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-read; websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("page read after Close: %v, want close 1001", err)
	}
	if n := te.Flows(); n != 0 {
		t.Fatalf("Flows() = %d after Close", n)
	}
	_, res, err := dialRaw(t, te.url(), "tok-1001", nil)
	if err == nil || res == nil || res.StatusCode != 503 {
		t.Fatalf("dial after Close: %v, want HTTP 503", err)
	}
	if err := te.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestFlowToken(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := newToken()
		if !validToken(tok) || seen[tok] {
			t.Fatalf("token %q invalid or repeated", tok)
		}
		seen[tok] = true
	}
	for _, s := range []string{"", "abc", strings.Repeat("a", tokenLen-1), strings.Repeat("A", tokenLen), strings.Repeat("1", tokenLen)} {
		if validToken(s) {
			t.Errorf("validToken(%q) = true", s)
		}
	}
}
