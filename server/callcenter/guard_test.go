package callcenter

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// testGuard is a guard for a trunk whose one queue is "support".
func testGuard() *guard {
	return newGuard(slog.New(slog.NewTextHandler(io.Discard, nil)), func(u string) bool { return u == "support" })
}

// TestGuardRFC4475 checks what the trunk's guard does with each of the 49
// RFC 4475 messages: the code it answers itself, or that it hands the
// message to sipgo (0: the trunk's handlers answer, e.g. 200 to OPTIONS,
// 404 to an INVITE for no queue, 405 to REGISTER), or drops it (-1: a
// response, or bytes with nothing to address an answer to).
func TestGuardRFC4475(t *testing.T) {
	want := map[string]int{
		"badaspec": 400, "badbranch": 0, "baddate": 0, "baddn": 400, "badinv01": 400, "badvers": 505,
		"bcast": 0, "bext01": 420, "bigcode": -1, "clerr": 400, "cparam01": 0, "cparam02": 0, "dblreq": 0,
		"esc01": 0, "esc02": 501, "escnull": 0, "escruri": 400, "insuf": 400, "intmeth": 501, "inv2543": 0,
		"invut": 0, "longreq": 0, "ltgtruri": 400, "lwsdisp": 0, "lwsruri": 400, "lwsstart": 400, "mcl01": 400,
		"mismatch01": 400, "mismatch02": 501, "mpart01": 0, "multi01": 400, "ncl": 400, "noreason": 0,
		"novelsc": 416, "quotbal": 400, "regaut01": 0, "regbadct": 400, "regescrt": 0, "scalar02": 400,
		"scalarlg": -1, "sdp01": 0, "semiuri": 0, "transports": 0, "trws": 400, "unkscm": 416, "unksm2": 416,
		"unreason": 0, "wsinv": 0, "zeromf": 0,
	}
	g := testGuard()
	files, _ := filepath.Glob("../../sip/testdata/rfc4475/*.dat")
	if len(files) != 49 || len(want) != 49 {
		t.Fatalf("%d files, %d cases; want 49", len(files), len(want))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".dat")
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		reply, pass, _ := g.check(data)
		got := -1
		switch {
		case pass && reply == nil:
			got = 0
		case reply != nil:
			got, _ = strconv.Atoi(strings.Fields(string(reply))[1])
		}
		if got != want[name] {
			t.Errorf("%s: guard gives %d (pass %v), want %d", name, got, pass, want[name])
		}
	}
}

// TestGuardNullTag checks that an RFC 2543 request (no From tag, RFC 4475
// §3.1.1.13) reaches sipgo with the guard's null tag, and that an answer
// built from it leaves with the request's Via and From as sent.
func TestGuardNullTag(t *testing.T) {
	g := testGuard()
	data, err := os.ReadFile("../../sip/testdata/rfc4475/inv2543.dat")
	if err != nil {
		t.Fatal(err)
	}
	reply, pass, fixed := g.check(data)
	if reply != nil || !pass || fixed == nil {
		t.Fatalf("guard gives reply %q, pass %v, fixed %q", reply, pass, fixed)
	}
	msg, err := sip.ParseMessage(fixed)
	if err != nil {
		t.Fatal(err)
	}
	req := msg.(*sip.Request)
	if tag, _ := req.From().Params.Get("tag"); tag != g.nullTag {
		t.Fatalf("sipgo sees From tag %q, want the null tag %q", tag, g.nullTag)
	}
	if key, err := sip.ServerTxKeyMake(req); err != nil || !strings.Contains(key, g.nullTag) {
		t.Errorf("transaction key %q (%v)", key, err)
	}
	res := string(g.strip([]byte(sip.NewResponseFromRequest(req, 404, "Not Found", nil).String())))
	if got := header(res, "From"); got != "<sip:+13035551111@ift.client.example.net;user=phone>" {
		t.Errorf("answer's From = %q", got)
	}
	if got := header(res, "Via"); got != "SIP/2.0/UDP iftgw.example.com" {
		t.Errorf("answer's Via = %q", got)
	}
	if got := header(res, "To"); !strings.Contains(got, ";tag=") {
		t.Errorf("answer's To has no tag: %q", got)
	}
	if strings.Contains(res, g.nullTag) {
		t.Errorf("the null tag leaves: %q", res)
	}
}

// TestGuardStream checks how the guard frames a TCP stream: what sipgo
// gets to read (the methods of the requests), and what the peer gets
// back (statuses, and "pong" for a keep-alive CRLF).
func TestGuardStream(t *testing.T) {
	head := func(method string) string {
		return method + " sip:support@trunk SIP/2.0\r\nVia: SIP/2.0/TCP peer;branch=z9hG4bK-" + method + "\r\n" +
			"From: <sip:p@peer>;tag=1\r\nTo: <sip:support@trunk>\r\nCall-ID: c1\r\nCSeq: 1 " + method + "\r\nMax-Forwards: 70\r\n"
	}
	options := head("OPTIONS") + "Content-Length: 0\r\n\r\n"
	for _, tc := range []struct {
		name       string
		in         string
		open       bool // the peer keeps its side open (else it ends it after in)
		sipgo, got []string
	}{
		{"pipelined, with keep-alives", "\r\n\r\n" + options + "\r\n" + head("INFO") + "Content-Type: text/plain\r\nl:\r\n 5\r\n\r\nhello" + options,
			false, []string{"OPTIONS", "INFO", "OPTIONS"}, []string{"pong"}},
		{"refused by the checks, the stream goes on", strings.Replace(options, "SIP/2.0\r\n", "SIP/7.0\r\n", 1) + options,
			false, []string{"OPTIONS"}, []string{"505"}},
		{"no Content-Length", head("OPTIONS") + "\r\n" + options, false, nil, []string{"400"}},
		{"two Content-Lengths", head("OPTIONS") + "Content-Length: 0\r\nContent-Length: 0\r\n\r\n" + options, false, nil, []string{"400"}},
		{"malformed Content-Length", head("OPTIONS") + "Content-Length: +0\r\n\r\n" + options, false, nil, []string{"400"}},
		{"body too large", head("OPTIONS") + "Content-Length: 70000\r\n\r\n" + strings.Repeat("a", 70000), false, nil, []string{"513"}},
		{"header too large", head("OPTIONS") + "X: " + strings.Repeat("a", 70000) + "\r\nContent-Length: 0\r\n\r\n", false, nil, []string{"513"}},
		{"stream ends inside the body", options + head("INFO") + "Content-Length: 10\r\n\r\nhello", false, []string{"OPTIONS"}, []string{"400"}},
		{"stream ends inside the headers", head("INFO"), false, nil, []string{"400"}},
		{"stalls inside the message", options + head("INFO"), true, []string{"OPTIONS"}, []string{"400"}},
		{"a response passes", "SIP/2.0 200 OK\r\n" + strings.SplitN(options, "\r\n", 2)[1], false, []string{"response"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := testGuard()
			if tc.open {
				// the peer stalls: the guard gives up after this; the
				// others end their side and never wait for it (a short
				// one would cut a peer the race detector slowed down)
				g.timeout = 100 * time.Millisecond
			}
			peer, s := guardedPair(t, g)
			sipgo := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(s) // what sipgo reads, up to the end of the stream
				s.Close()
				sipgo <- b
			}()
			if _, err := peer.Write([]byte(tc.in)); err != nil {
				t.Fatal(err)
			}
			if !tc.open {
				peer.CloseWrite()
			}
			back, err := io.ReadAll(peer)
			if err != nil {
				t.Fatal(err)
			}
			peer.Close()
			if got := peerSaw(t, back); !slices.Equal(got, tc.got) {
				t.Errorf("peer got %v, want %v", got, tc.got)
			}
			var methods []string
			if err := g.parser.NewSIPStream().ParseSIPStream(<-sipgo, func(m sip.Message) {
				if req, ok := m.(*sip.Request); ok {
					methods = append(methods, string(req.Method))
				} else {
					methods = append(methods, "response")
				}
			}); err != nil {
				t.Errorf("sipgo cannot parse what it got: %v", err)
			}
			if !slices.Equal(methods, tc.sipgo) {
				t.Errorf("sipgo got %v, want %v", methods, tc.sipgo)
			}
		})
	}
}

// TestGuardStreamStripsNullTag checks that what sipgo writes on a guarded
// stream leaves without the null tag.
func TestGuardStreamStripsNullTag(t *testing.T) {
	g := testGuard()
	peer, s := guardedPair(t, g)
	res := "SIP/2.0 404 Not Found\r\nFrom: <sip:p@peer>;tag=" + g.nullTag + "\r\nContent-Length: 4\r\n\r\nbody"
	if n, err := s.Write([]byte(res)); n != len(res) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	s.Close()
	back, _ := io.ReadAll(peer)
	if want := "SIP/2.0 404 Not Found\r\nFrom: <sip:p@peer>\r\nContent-Length: 4\r\n\r\nbody"; string(back) != want {
		t.Errorf("peer got %q, want %q", back, want)
	}
}

// guardedPair connects a peer to a guarded TCP listener.
func guardedPair(t *testing.T, g *guard) (*net.TCPConn, *guardStream) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := guardListener{Listener: ln, g: g}.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close(); c.Close() })
	return peer.(*net.TCPConn), c.(*guardStream)
}

// peerSaw lists what a peer read from a guarded stream: the status of
// each response, "pong" for each CRLF between them.
func peerSaw(t *testing.T, b []byte) []string {
	t.Helper()
	var saw []string
	for len(b) > 0 {
		if bytes.HasPrefix(b, []byte("\r\n")) {
			saw = append(saw, "pong")
			b = b[2:]
			continue
		}
		head, _, ok := bytes.Cut(b, []byte("\r\n\r\n"))
		if !ok {
			t.Fatalf("peer read %q", b)
		}
		n, err := contentLength(head)
		if err != nil {
			t.Fatalf("peer read %q: %v", head, err)
		}
		saw = append(saw, strings.Fields(string(head))[1])
		b = b[min(len(b), len(head)+4+n):]
	}
	return saw
}
