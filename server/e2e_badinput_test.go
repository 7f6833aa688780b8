package server

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	gosip "github.com/emiago/sipgo/sip"
	"github.com/golang-jwt/jwt/v5"

	"github.com/agentbar/agentbar/proxy/auth"
	"github.com/agentbar/agentbar/proxy/control/wire"
	"github.com/agentbar/agentbar/proxy/gateway"
	"github.com/agentbar/agentbar/server/config"
)

// e2eBadToken is a token the server must refuse, and the reason it must give.
type e2eBadToken struct {
	tok  string
	code auth.Code
}

// e2eBadTokens mints tokens the server must refuse, with its own HMAC key
// where a signature is involved, next to one good token.
func e2eBadTokens(t *testing.T) (good string, bad map[string]e2eBadToken) {
	t.Helper()
	key := []byte(e2eHMACKey)
	now := time.Now()
	claims := func(edit func(c *auth.Claims)) *auth.Claims {
		c := &auth.Claims{RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "agentbar", Subject: "1001", Audience: jwt.ClaimStrings{"agentbar"},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), ID: rand.Text(),
		}}
		if edit != nil {
			edit(c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, k any, c *auth.Claims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good = sign(jwt.SigningMethodHS256, key, claims(nil))
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	var payload map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	json.Unmarshal(raw, &payload)
	payload["sub"] = "1002"
	forged, _ := json.Marshal(payload)
	sig := []byte(parts[2])
	if i := len(sig) / 2; sig[i] == 'A' { // still base64url, another signature
		sig[i] = 'B'
	} else {
		sig[i] = 'A'
	}
	other := "another-key-0123456789abcdef-0123456789"
	hs := func(edit func(c *auth.Claims)) string { return sign(jwt.SigningMethodHS256, key, claims(edit)) }
	bad = map[string]e2eBadToken{
		"alg none":           {sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)), auth.CodeTokenBadAlgorithm},
		"alg HS512, our key": {sign(jwt.SigningMethodHS512, key, claims(nil)), auth.CodeTokenBadAlgorithm},
		"alg EdDSA, no key":  {sign(jwt.SigningMethodEdDSA, edKey, claims(nil)), auth.CodeTokenBadAlgorithm},
		"wrong key":          {sign(jwt.SigningMethodHS256, []byte(other), claims(nil)), auth.CodeTokenBadSignature},
		"wrong audience":     {hs(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"some-crm"} }), auth.CodeTokenBadAudience},
		"wrong issuer":       {hs(func(c *auth.Claims) { c.Issuer = "mallory" }), auth.CodeTokenBadIssuer},
		"expired": {hs(func(c *auth.Claims) {
			c.IssuedAt, c.ExpiresAt = jwt.NewNumericDate(now.Add(-2*time.Hour)), jwt.NewNumericDate(now.Add(-time.Hour))
		}), auth.CodeTokenExpired},
		"too long-lived":     {hs(func(c *auth.Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(13 * time.Hour)) }), auth.CodeTokenTooLongLived},
		"no expiry":          {hs(func(c *auth.Claims) { c.ExpiresAt = nil }), auth.CodeTokenNoExpiry},
		"no subject":         {hs(func(c *auth.Claims) { c.Subject = "" }), auth.CodeTokenNoSubject},
		"not yet valid":      {hs(func(c *auth.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(10 * time.Minute)) }), auth.CodeTokenNotYetValid},
		"tampered payload":   {parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2], auth.CodeTokenBadSignature},
		"tampered signature": {parts[0] + "." + parts[1] + "." + string(sig), auth.CodeTokenBadSignature},
		"not a JWT":          {"not.a.jwt", auth.CodeTokenMalformed},
		"oversized":          {parts[0] + "." + strings.Repeat("A", 9000) + "." + parts[2], auth.CodeTokenMalformed},
	}
	return good, bad
}

// e2eControlRefused opens the control channel with tok (as a subprotocol,
// or in the auth message) and reports how the server refused it.
func e2eControlRefused(s *e2eServer, tok string, code auth.Code, inMessage bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	protos := []string{wire.Subprotocol}
	if !inMessage {
		protos = append(protos, wire.TokenPrefix+tok)
	}
	ws, _, err := websocket.Dial(ctx, s.wsURL("/v1/agent/ws"), &websocket.DialOptions{Subprotocols: protos})
	if err != nil {
		return fmt.Errorf("upgrade refused: %w", err)
	}
	defer ws.CloseNow()
	if inMessage {
		b, _ := json.Marshal(wire.ClientMessage{Type: wire.TypeAuth, Token: tok})
		if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
			return err
		}
	}
	_, data, err := ws.Read(ctx)
	if err != nil {
		return fmt.Errorf("no message: %w", err)
	}
	var m wire.ServerMessage
	if json.Unmarshal(data, &m) != nil || m.Type != wire.TypeError || m.Error == nil || m.Error.Code != wire.CodeUnauthorized {
		return fmt.Errorf("accepted: first message %s", data)
	}
	if !strings.Contains(m.Error.Message, string(code)) {
		return fmt.Errorf("refused with %q, want reason %s", m.Error.Message, code)
	}
	if strings.Contains(m.Error.Message, tok) {
		return errors.New("the error quotes the token")
	}
	_, _, err = ws.Read(ctx)
	if code := websocket.CloseStatus(err); code != 4001 {
		return fmt.Errorf("closed with %v, want 4001", err)
	}
	return nil
}

// e2eSIPDial opens the SIP edge with tok (if any) and origin (if any) and
// returns the HTTP status of the upgrade (101 when accepted).
func e2eSIPDial(t *testing.T, s *e2eServer, tok, origin string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	protos := []string{"sip"}
	if tok != "" {
		protos = append(protos, "access_token."+tok)
	}
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	ws, res, err := websocket.Dial(ctx, s.wsURL("/v1/sip"), &websocket.DialOptions{Subprotocols: protos, HTTPHeader: h})
	if err == nil {
		ws.CloseNow()
		return http.StatusSwitchingProtocols
	}
	if res == nil {
		t.Fatalf("SIP edge dial: %v", err)
	}
	return res.StatusCode
}

// e2eControlDialStatus opens the control channel with origin and a good
// token and returns the upgrade's HTTP status (101 when accepted, after
// checking the hello).
func e2eControlDialStatus(t *testing.T, s *e2eServer, tok, origin string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	ws, res, err := websocket.Dial(ctx, s.wsURL("/v1/agent/ws"), &websocket.DialOptions{Subprotocols: []string{wire.Subprotocol, wire.TokenPrefix + tok}, HTTPHeader: h})
	if err != nil {
		if res == nil {
			t.Fatalf("control dial: %v", err)
		}
		return res.StatusCode
	}
	defer ws.CloseNow()
	_, data, err := ws.Read(ctx)
	if err != nil || !strings.Contains(string(data), `"type":"hello"`) {
		t.Fatalf("accepted channel sent %s (%v), want a hello", data, err)
	}
	return http.StatusSwitchingProtocols
}

// e2eTortureResult is what the trunk answered to one RFC 4475 message.
type e2eTortureResult struct {
	name   string
	req    bool   // the message is a request by its first line
	parsed bool   // sipgo's parser takes it as a request (the trunk sees it)
	tx     string // its server transaction key (RFC 3261 §17.2.3), if any
	key    string // what its answers are filed under: tx and the Call-ID (e2eAnswerKey), else "cid:<Call-ID>"
	method string // its method, as parsed
	also   string // the key of the earlier message the trunk takes it for a retransmission of, if any
	codes  []int  // statuses received, in order
}

// answerKeys are the keys r's answers may be filed under, in each scope:
// its own and, for a retransmission, the first message's.
func (r *e2eTortureResult) answerKeys(scopes ...string) []string {
	var keys []string
	for _, sc := range scopes {
		keys = append(keys, sc+r.key)
		if r.also != "" {
			keys = append(keys, sc+r.also)
		}
	}
	return keys
}

// final tells whether a final response arrived.
func (r *e2eTortureResult) final() bool {
	return len(r.codes) > 0 && r.codes[len(r.codes)-1] >= 200
}

// finalCode is the status of the last final response, or 0.
func (r *e2eTortureResult) finalCode() int {
	if !r.final() {
		return 0
	}
	return r.codes[len(r.codes)-1]
}

// e2eCollector gathers the trunk's responses, by server transaction key
// (and by Call-ID): those sent where a Via without rport points (the
// source address at the Via's port, 5060 for nearly all of these
// messages, over UDP or TCP), and, each under keys of its own (a scope
// before the key), those that come back to a sending socket.
type e2eCollector struct {
	mu    sync.Mutex
	codes map[string][]int
	wake  chan struct{}
	wg    sync.WaitGroup
	stops []func() error // guarded by mu
}

func e2eCollect(t *testing.T, addr string) *e2eCollector {
	c := &e2eCollector{codes: map[string][]int{}, wake: make(chan struct{})}
	t.Cleanup(func() {
		c.mu.Lock()
		stops := c.stops
		c.mu.Unlock()
		for _, stop := range stops {
			stop()
		}
		c.wg.Wait()
	})
	if pc, err := net.ListenPacket("udp", addr); err != nil {
		t.Logf("responses sent to %s/udp cannot be watched: %v", addr, err)
	} else {
		c.readPackets(pc, "")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Logf("responses sent to %s/tcp cannot be watched: %v", addr, err)
		return c
	}
	c.mu.Lock()
	c.stops = append(c.stops, ln.Close)
	c.mu.Unlock()
	c.wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.wg.Go(func() {
				defer conn.Close()
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(conn)
				for {
					msg, err := e2eReadStreamed(br)
					if err != nil {
						return
					}
					c.file(msg, "")
				}
			})
		}
	})
	return c
}

// e2eReadStreamed reads one SIP message from a stream (RFC 3261 §18.3:
// headers, then Content-Length bytes of body).
func e2eReadStreamed(br *bufio.Reader) ([]byte, error) {
	var msg []byte
	length := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		msg = append(msg, line...)
		if strings.TrimSpace(line) == "" {
			if len(msg) == len(line) {
				msg = msg[:0] // keep-alive CRLF between messages
				continue
			}
			break
		}
		if name, v, ok := strings.Cut(line, ":"); ok {
			if n := strings.ToLower(strings.TrimSpace(name)); n == "content-length" || n == "l" {
				length, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(br, body); err != nil {
		return nil, err
	}
	return append(msg, body...), nil
}

// readPackets files every datagram pc receives, in scope, until it is
// closed.
func (c *e2eCollector) readPackets(pc net.PacketConn, scope string) {
	c.mu.Lock()
	c.stops = append(c.stops, pc.Close)
	c.mu.Unlock()
	c.wg.Go(func() {
		buf := make([]byte, 65535)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			c.file(buf[:n], scope)
		}
	})
}

// file records one response under its transaction key and its Call-ID,
// both after scope.
func (c *e2eCollector) file(msg []byte, scope string) {
	var keys []string
	code := 0
	if m, err := gosip.ParseMessage(msg); err == nil {
		res, ok := m.(*gosip.Response)
		if !ok {
			return
		}
		code = res.StatusCode
		if key, err := gosip.ServerTxKeyMake(res); err == nil {
			keys = append(keys, scope+e2eAnswerKey(key, res.CallID()))
		}
		if cid := res.CallID(); cid != nil {
			keys = append(keys, scope+"cid:"+cid.Value())
		}
	} else if f := strings.Fields(string(msg[:min(len(msg), 64)])); len(f) > 1 && f[0] == "SIP/2.0" {
		// An answer that copies a request's malformed headers, as it
		// must (RFC 3261 §8.2.6.2), may not parse: its status line and
		// Call-ID still tell.
		code, _ = strconv.Atoi(f[1])
		if m := e2eCallIDRe.FindSubmatch(msg); m != nil {
			keys = append(keys, scope+"cid:"+string(m[1]))
		}
	}
	c.mu.Lock()
	for _, k := range keys {
		c.codes[k] = append(c.codes[k], code)
	}
	close(c.wake)
	c.wake = make(chan struct{})
	c.mu.Unlock()
}

// take removes and returns what arrived for key, and a channel closed at
// the next arrival.
func (c *e2eCollector) take(key string) ([]int, chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	codes := c.codes[key]
	delete(c.codes, key)
	return codes, c.wake
}

// e2eAnswerKey is what a message's answers are filed under: its
// transaction key and its Call-ID. Several RFC 4475 messages share a
// transaction key (mismatch01's CSeq names INVITE, as esc01's does); the
// trunk's retransmitted answer to one must not count for another.
func e2eAnswerKey(tx string, cid *gosip.CallIDHeader) string {
	if cid == nil {
		return tx
	}
	return tx + " " + cid.Value()
}

// e2eCallIDRe finds the Call-ID (or compact i) header of a raw message.
var e2eCallIDRe = regexp.MustCompile(`(?im)^(?:call-id|i)[ \t]*:[ \t]*(\S+)`)

// e2eTortureMessage reads one RFC 4475 message and what the trunk's
// parser makes of it.
func e2eTortureMessage(name string, data []byte) e2eTortureResult {
	r := e2eTortureResult{name: name, req: !strings.HasPrefix(string(data), "SIP/")}
	if m, err := gosip.ParseMessage(data); err == nil {
		if req, ok := m.(*gosip.Request); ok {
			r.parsed, r.method = true, string(req.Method)
			if r.tx, _ = gosip.ServerTxKeyMake(req); r.tx != "" {
				r.key = e2eAnswerKey(r.tx, req.CallID())
			}
		}
	}
	if r.key == "" && r.req {
		// No RFC 3261 transaction key (no magic-cookie branch, no From
		// tag): an answer can still be told by its Call-ID.
		if m := e2eCallIDRe.FindSubmatch(data); m != nil {
			r.key = "cid:" + string(m[1])
		}
	}
	return r
}

// await gathers what arrives under keys for r's transaction until a
// final response or the deadline.
func (c *e2eCollector) await(r *e2eTortureResult, wait time.Duration, keys ...string) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		var wake chan struct{}
		for _, k := range keys {
			var codes []int
			codes, wake = c.take(k)
			r.codes = append(r.codes, codes...)
		}
		if r.final() {
			return
		}
		select {
		case <-wake:
		case <-deadline.C:
			return
		}
	}
}

// e2eTorture sends one message to the trunk from a socket of its own
// (network "udp" or "tcp") and waits for a final response to its
// transaction, or the deadline. Over TCP only what comes back on the
// connection counts; the message's side of it then ends, which settles a
// message cut short (the trunk answers it), and what the trunk still
// sends is read until it closes its side.
func e2eTorture(network, trunk string, col *e2eCollector, r *e2eTortureResult, data []byte, wait time.Duration) error {
	c, err := net.Dial(network, trunk)
	if err != nil {
		return err
	}
	own := c.LocalAddr().String() + "|"
	if network == "udp" {
		col.readPackets(c.(net.PacketConn), own)
		if _, err := c.Write(data); err != nil {
			return err
		}
		col.await(r, wait, r.answerKeys("", own)...)
		return nil
	}
	defer c.Close()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		br := bufio.NewReader(c)
		for {
			msg, err := e2eReadStreamed(br)
			if err != nil {
				return
			}
			col.file(msg, own)
		}
	}()
	if _, err := c.Write(data); err != nil {
		return err
	}
	col.await(r, wait, r.answerKeys(own)...)
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	<-closed
	col.await(r, 0, r.answerKeys(own)...)
	return nil
}

// e2eTortureRun sends the RFC 4475 messages to the trunk's address over
// network, each from a socket of its own, and returns what each got.
func e2eTortureRun(t *testing.T, network, trunk string, col *e2eCollector, names []string, datas [][]byte) []e2eTortureResult {
	// Messages that share a transaction key (same branch, sent-by and
	// method) go in later rounds: the trunk rightly takes them for
	// retransmissions and repeats its answer to the first one.
	results := make([]e2eTortureResult, len(datas))
	// Such a repeat carries the first one's Call-ID; a message with
	// another method under the same key (mismatch01 names INVITE in its
	// CSeq) is no retransmission, and must not take the repeats of the
	// first one's answer that the trunk sends on its own (RFC 3261 §17.2.1).
	rounds := map[string]int{}
	first := map[string]int{}
	var last int
	round := make([]int, len(datas))
	for i := range datas {
		results[i] = e2eTortureMessage(names[i], datas[i])
		if k := results[i].tx; k != "" {
			round[i] = rounds[k]
			rounds[k]++
			last = max(last, round[i])
			if f, ok := first[k]; !ok {
				first[k] = i
			} else if results[f].method == results[i].method {
				results[i].also = results[f].key
			}
		}
	}
	errs := make([]error, len(datas))
	t0 := time.Now()
	for n := 0; n <= last; n++ {
		var wg sync.WaitGroup
		for i := range datas {
			if round[i] != n {
				continue
			}
			wait := 2 * time.Second // a request the trunk parsed: its answer ends the wait
			if !results[i].parsed {
				wait = 300 * time.Millisecond // most likely nothing to wait for
			}
			wg.Go(func() { errs[i] = e2eTorture(network, trunk, col, &results[i], datas[i], wait) })
		}
		wg.Wait()
	}
	var summary []string
	answered := 0
	for i, r := range results {
		if errs[i] != nil {
			t.Error(errs[i])
		}
		summary = append(summary, fmt.Sprintf("%s:%v", r.name, r.codes))
		if r.final() {
			answered++
		}
		if !r.req && len(r.codes) > 0 {
			t.Errorf("%s is a response, yet the trunk answered %v over %s", r.name, r.codes, network)
		}
	}
	t.Logf("%s: 49 messages in %d rounds, %v; %d got a final response: %s", network, last+1, time.Since(t0).Round(time.Millisecond), answered, strings.Join(summary, " "))
	return results
}

// e2eOptions sends OPTIONS to the trunk over network and returns the
// status.
func e2eOptions(t *testing.T, network, trunk string) int {
	t.Helper()
	c, err := net.Dial(network, trunk)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := strings.Join([]string{
		"OPTIONS sip:support@" + trunk + " SIP/2.0",
		"Via: SIP/2.0/" + strings.ToUpper(network) + " " + c.LocalAddr().String() + ";branch=z9hG4bK-e2e-" + rand.Text()[:10] + ";rport",
		"Max-Forwards: 70",
		"From: <sip:probe@" + c.LocalAddr().String() + ">;tag=" + rand.Text()[:8],
		"To: <sip:support@" + trunk + ">",
		"Call-ID: " + rand.Text(),
		"CSeq: 1 OPTIONS",
		"Content-Length: 0", "", "",
	}, "\r\n")
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := e2eReadStreamed(bufio.NewReader(c)) // over UDP, one datagram
	if err != nil {
		t.Fatalf("no answer to OPTIONS over %s: %v", network, err)
	}
	f := strings.Fields(strings.SplitN(string(res), "\r\n", 2)[0])
	code, _ := strconv.Atoi(f[1])
	return code
}

// TestE2EBadInput feeds the server what an attacker or a broken client
// would: forged and unacceptable JWTs on both WebSockets, foreign
// origins, and the 49 RFC 4475 torture messages on the SIP trunk, over
// UDP and over TCP; then checks that the server still does its job.
func TestE2EBadInput(t *testing.T) {
	s := e2eStartServer(t, t.TempDir(), nil)
	a := s.e2eBar(t, "1001") // registered before the abuse, and must still take calls after it
	a.ready()

	good, bad := e2eBadTokens(t)
	t.Run("tokens", func(t *testing.T) {
		for _, name := range slices.Sorted(maps.Keys(bad)) {
			tok := bad[name].tok
			for _, inMessage := range []bool{false, true} {
				if err := e2eControlRefused(s, tok, bad[name].code, inMessage); err != nil {
					t.Errorf("control channel, %s (token in auth message %v): %v", name, inMessage, err)
				}
			}
			if code := e2eSIPDial(t, s, tok, ""); code != http.StatusUnauthorized {
				t.Errorf("SIP edge, %s: HTTP %d, want 401", name, code)
			}
		}
		if code := e2eSIPDial(t, s, "", ""); code != http.StatusUnauthorized {
			t.Errorf("SIP edge without a token: HTTP %d, want 401", code)
		}
		// The same checks let a good token through.
		if code := e2eControlDialStatus(t, s, good, ""); code != http.StatusSwitchingProtocols {
			t.Errorf("control channel, good token: HTTP %d", code)
		}
		if code := e2eSIPDial(t, s, good, ""); code != http.StatusSwitchingProtocols {
			t.Errorf("SIP edge, good token: HTTP %d", code)
		}
		t.Logf("%d bad tokens refused on both WebSockets (control: error unauthorized + close 4001, by subprotocol and by auth message; SIP edge: 401)", len(bad))
	})

	t.Run("origins", func(t *testing.T) {
		// Own-origin policy (no list): another site is refused.
		for _, tc := range []struct {
			origin string
			want   int
		}{
			{"https://evil.example", http.StatusForbidden},
			{s.url, http.StatusSwitchingProtocols},
		} {
			if code := e2eControlDialStatus(t, s, good, tc.origin); code != tc.want {
				t.Errorf("control channel, own-origin policy, Origin %s: HTTP %d, want %d", tc.origin, code, tc.want)
			}
			if code := e2eSIPDial(t, s, good, tc.origin); code != tc.want {
				t.Errorf("SIP edge, own-origin policy, Origin %s: HTTP %d, want %d", tc.origin, code, tc.want)
			}
		}
		// An explicit list: only the CRM's origin, and no Origin at all is refused.
		s2 := e2eStartServer(t, t.TempDir(), func(c *config.Config) { c.AllowedOrigins = []string{"https://crm.example.com"} })
		tok2 := s2.token(t, "1001", "pw1001")
		for _, tc := range []struct {
			origin string
			want   int
		}{
			{"https://evil.example", http.StatusForbidden},
			{"https://crm.example.com.evil.example", http.StatusForbidden},
			{"http://crm.example.com", http.StatusForbidden},
			{s2.url, http.StatusForbidden},
			{"", http.StatusForbidden},
			{"https://crm.example.com", http.StatusSwitchingProtocols},
		} {
			if code := e2eControlDialStatus(t, s2, tok2, tc.origin); code != tc.want {
				t.Errorf("control channel, allowed_origins, Origin %q: HTTP %d, want %d", tc.origin, code, tc.want)
			}
			if code := e2eSIPDial(t, s2, tok2, tc.origin); code != tc.want {
				t.Errorf("SIP edge, allowed_origins, Origin %q: HTTP %d, want %d", tc.origin, code, tc.want)
			}
		}
	})

	t.Run("rfc4475", func(t *testing.T) {
		files, err := filepath.Glob("../sip/testdata/rfc4475/*.dat")
		if err != nil || len(files) != 49 {
			t.Fatalf("want the 49 RFC 4475 messages, found %d (%v)", len(files), err)
		}
		names := make([]string, len(files))
		datas := make([][]byte, len(files))
		for i, f := range files {
			names[i] = strings.TrimSuffix(filepath.Base(f), ".dat")
			if datas[i], err = os.ReadFile(f); err != nil {
				t.Fatal(err)
			}
		}
		col := e2eCollect(t, "127.0.0.1:5060")
		udp := e2eTortureRun(t, "udp", s.cc().Addrs().Trunk, col, names, datas)
		// What the trunk (a UAS that takes INVITEs to its queues and
		// OPTIONS) must answer to the valid messages of RFC 4475 §3.1.1
		// and the application-layer ones it can judge.
		want := map[string]int{
			"lwsdisp": 200, "semiuri": 200, "transports": 200, "zeromf": 200, "badbranch": 200, // OPTIONS
			"esc01": 404, "sdp01": 404, "invut": 404, "baddate": 404, // INVITE to a user that is no queue
			"inv2543": 404, "longreq": 404, // the same from an RFC 2543 peer (RFC 3261 §17.2.3), and one whose 404 goes back over UDP however large (§18.2.2)
			"mpart01": 405, "regaut01": 405, "cparam01": 405, "cparam02": 405, "regescrt": 405, // not a registrar
			"intmeth": 501, "esc02": 501, "mismatch02": 501, // unknown methods (RFC 3261 §8.2.1)
			"bext01": 420, "wsinv": 481, "unkscm": 416, "novelsc": 416, "unksm2": 416, "mcl01": 400, "multi01": 400, // answered by the trunk's guard (sip/check)
			"insuf": 400, // no From, To, Call-ID or CSeq to answer with
		}
		for _, r := range udp {
			switch {
			case r.req && !r.final():
				t.Errorf("%s: a request got %v, no final response", r.name, r.codes)
			case want[r.name] != 0 && (!r.final() || r.codes[len(r.codes)-1] != want[r.name]):
				t.Errorf("%s: the trunk answered %v, want %d", r.name, r.codes, want[r.name])
			}
		}
		// Over TCP, one connection per message, the same answers; but a
		// stream has no end of datagram to find the end of a message at,
		// so one without Content-Length is refused (RFC 3261 §18.3, §20.14).
		// A fresh server: the transactions of the UDP run would take these
		// for retransmissions, and answer over UDP.
		s2 := e2eStartServer(t, t.TempDir(), nil)
		tcp := e2eTortureRun(t, "tcp", s2.cc().Addrs().Trunk, col, names, datas)
		for i, r := range tcp {
			want := udp[i].finalCode()
			if r.name == "inv2543" {
				want = 400
			}
			if got := r.finalCode(); got != want {
				t.Errorf("%s over TCP: the trunk answered %v, want %d as over UDP (%v)", r.name, r.codes, want, udp[i].codes)
			}
		}
		if code := e2eOptions(t, "tcp", s2.cc().Addrs().Trunk); code != 200 {
			t.Errorf("OPTIONS over TCP after the torture: %d", code)
		}
	})

	// The server still works.
	if code := e2eOptions(t, "udp", s.cc().Addrs().Trunk); code != 200 {
		t.Fatalf("OPTIONS on the trunk after the torture: %d", code)
	}
	res, err := http.Get(s.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "ok\n" {
		t.Fatalf("/healthz: %d %q", res.StatusCode, body)
	}
	callID := s.demoCall(t, "support", "+15550199", nil)
	a.ch.expectCall(gateway.EvCallIncoming, callID)
	ph := a.phone.answer(a.phone.ringing())
	a.ch.expectCall(gateway.EvCallAnswered, callID)
	e2eEventually(t, 10*time.Second, "the phone to hear the customer", func() bool { st := ph.Stats(); return st.PacketsIn > 25 && st.LevelIn > e2eHeard })
	a.ch.op(string(gateway.OpHangup))
	a.ch.expectCall(gateway.EvCallEnded, callID)
}
