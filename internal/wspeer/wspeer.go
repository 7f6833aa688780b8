// Package wspeer is an in-process SIP-over-WebSocket peer (RFC 7118) for fast
// unit tests of a SIP user agent.
//
// The peer is built on sipgo: its WebSocket transport serves a loopback
// listener (ws://127.0.0.1:PORT, subprotocol "sip"), and sipgo's transaction
// layer runs every transaction. On top of that the peer plays three roles:
//
//   - registrar: it answers REGISTER (optionally with a digest challenge),
//     keeps the bindings, and understands RFC 5626 instance/reg-id pairs;
//   - proxy-less far end: it answers the UA's outgoing INVITEs as configured
//     with [Peer.OnInvite] and keeps real dialogs (to-tag, CSeq, ACK, BYE);
//   - call generator: [Peer.Call] and [Peer.CallAsync] send INVITEs to a
//     registered UA.
//
// A UA registered over WebSocket usually advertises an unreachable contact
// such as sip:1001@abcd.invalid;transport=ws. Like an RFC 5626 edge proxy,
// the peer therefore sends every request for the UA over the WebSocket
// connection ("flow") the UA registered on, or that the dialog was set up on.
// With sipgo this is done by setting the request destination to the flow's
// remote address (the connection's source address): the transport layer
// finds the live connection under that address in its pool and writes to it
// instead of dialling.
//
// Everything is safe for concurrent use. Start registers the clean-up with
// t.Cleanup, so a test needs no explicit Close.
package wspeer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Errors returned by the peer.
var (
	// ErrClosed is returned by waits and requests after the peer was closed.
	ErrClosed = errors.New("wspeer: peer closed")
	// ErrNotRegistered is returned when a request needs a registered user
	// that has no live binding.
	ErrNotRegistered = errors.New("wspeer: user not registered")
	// ErrFlowClosed is returned when the WebSocket connection a request must
	// travel on is gone and no replacement flow of the same UA is known.
	ErrFlowClosed = errors.New("wspeer: flow closed")
)

// Config configures a Peer. The zero value is a usable peer without
// authentication.
type Config struct {
	// Users maps user name to password. If empty, nothing is challenged.
	// Otherwise REGISTER is challenged with 401 and out-of-dialog INVITEs
	// from the UA with 401 (or 407, see ProxyAuth).
	Users map[string]string
	// Realm is the digest realm and the domain of the peer's own URIs.
	// Default "agentbar.test".
	Realm string
	// Algorithm is the digest challenge algorithm, "MD5" (default) or
	// "SHA-256". The challenge always offers qop="auth".
	Algorithm string
	// ProxyAuth challenges out-of-dialog INVITEs from the UA with
	// 407 Proxy-Authenticate instead of 401 WWW-Authenticate.
	ProxyAuth bool

	// KeepBindingsOnFlowClose keeps a binding when the WebSocket connection
	// it was registered on closes. By default such bindings are removed at
	// once, because their .invalid contact is unreachable without the flow;
	// with this option they stay (Registration.Connected reports false) until
	// they expire or are unregistered.
	KeepBindingsOnFlowClose bool
	// FlowTimer, if positive, adds "Flow-Timer: FlowTimer" (seconds, RFC
	// 5626) to 200 responses for REGISTERs that use SIP Outbound.
	FlowTimer int
	// Logger receives sipgo's transport, transaction and server logs.
	// Default: discarded. (sipgo's package-level default logger, used by some
	// of its internals, is left alone.)
	Logger *slog.Logger
}

// Peer is a running SIP-over-WebSocket peer. Create it with Start.
type Peer struct {
	cfg    Config
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	txl    *sip.TransactionLayer
	tpl    *sip.TransportLayer
	ln     net.Listener
	host   string // listen IP, used in Via, Contact and Record-Route
	port   int
	ctx    context.Context // ends on Close
	cancel context.CancelFunc

	respondKeepalive atomic.Bool
	keepalives       atomic.Int64

	wg        sync.WaitGroup // peer goroutines and blocking handlers
	serveDone chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex
	closed  bool
	changed chan struct{} // closed and replaced on every state change

	flows       map[string]*flowConn // by remote address
	bindings    []*binding
	requests    []*sip.Request
	seen        map[*sip.Request]*sip.Request // received request -> its copy
	nonces      map[string]time.Time
	answers     map[string]Answer
	serverCalls []*ServerCall
	dialogs     map[dialogKey]*dialog
}

// Start starts a peer listening on 127.0.0.1:0 and registers its shutdown
// with t.Cleanup. It fails the test if the peer cannot start.
func Start(t testing.TB, cfg Config) *Peer {
	t.Helper()
	p, err := start(cfg)
	if err != nil {
		t.Fatalf("wspeer: start: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

func start(cfg Config) (*Peer, error) {
	if cfg.Realm == "" {
		cfg.Realm = "agentbar.test"
	}
	switch cfg.Algorithm {
	case "":
		cfg.Algorithm = "MD5"
	case "MD5", "SHA-256":
	default:
		return nil, fmt.Errorf("unsupported digest algorithm %q", cfg.Algorithm)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	users := make(map[string]string, len(cfg.Users))
	for u, pw := range cfg.Users {
		users[u] = pw
	}
	cfg.Users = users

	p := &Peer{
		cfg:       cfg,
		changed:   make(chan struct{}),
		flows:     make(map[string]*flowConn),
		seen:      make(map[*sip.Request]*sip.Request),
		nonces:    make(map[string]time.Time),
		answers:   make(map[string]Answer),
		dialogs:   make(map[dialogKey]*dialog),
		serveDone: make(chan struct{}),
	}
	p.respondKeepalive.Store(true)
	p.ctx, p.cancel = context.WithCancel(context.Background())

	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("wspeer"),
		sipgo.WithUserAgentHostname(cfg.Realm),
		sipgo.WithUserAgentTransportLayerOptions(
			sip.WithTransportLayerLogger(cfg.Logger),
			sip.WithTransportLayerReadFilter(p.readFilter),
		),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(cfg.Logger),
			sip.WithTransactionLayerUnhandledResponseHandler(p.onStrayResponse),
			sip.WithTransactionLayerTerminateOnConnClose(),
		),
	)
	if err != nil {
		p.cancel()
		return nil, err
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(cfg.Logger))
	if err != nil {
		p.cancel()
		_ = ua.Close()
		return nil, err
	}
	// Every method goes to one dispatcher.
	srv.OnNoRoute(p.handleRequest)
	p.ua, p.srv = ua, srv
	p.txl = ua.TransactionLayer()
	p.tpl = ua.TransportLayer()
	// Runs in the connection's read goroutine, in wire order, after the
	// transaction layer has taken the message.
	p.tpl.OnMessage(p.onMessage)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		p.cancel()
		_ = ua.Close()
		return nil, err
	}
	addr := ln.Addr().(*net.TCPAddr)
	p.host, p.port = addr.IP.String(), addr.Port
	p.ln = &flowListener{Listener: ln, p: p}
	go func() {
		defer close(p.serveDone)
		_ = srv.ServeWS(p.ln)
	}()
	return p, nil
}

// Close stops the peer: it closes the listener and every connection,
// terminates sipgo's transactions and waits for the peer's goroutines.
// Start calls it from t.Cleanup; calling it again is harmless.
func (p *Peer) Close() {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.notifyLocked()
		p.mu.Unlock()
		p.cancel()
		_ = p.ln.Close()
		<-p.serveDone
		p.DropConnections()
		_ = p.ua.Close()
		p.wg.Wait()
	})
}

// URL returns the WebSocket URL the UA should connect to, ws://127.0.0.1:PORT.
func (p *Peer) URL() string {
	return "ws://" + net.JoinHostPort(p.host, strconv.Itoa(p.port))
}

// Realm returns the digest realm, which is also the domain of the peer's
// own URIs (From of calls it generates, To of REGISTER responses).
func (p *Peer) Realm() string { return p.cfg.Realm }

// Requests returns every request the peer received, in arrival order
// (per connection, wire order), including ACKs and CANCELs that sipgo's
// transaction layer absorbed. The requests are copies taken on arrival.
func (p *Peer) Requests() []*sip.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*sip.Request(nil), p.requests...)
}

// SetRespondToKeepalive controls the RFC 5626 keep-alive answer. When true
// (default), a WebSocket message consisting of exactly "\r\n\r\n" is answered
// with "\r\n" (sipgo's WS transport does this itself). When false, CRLF-only
// messages are swallowed unanswered, to test the UA's flow-failure detection.
func (p *Peer) SetRespondToKeepalive(respond bool) {
	p.respondKeepalive.Store(respond)
}

// Keepalives returns how many CRLF-only keep-alive messages the peer has
// received on all connections.
func (p *Peer) Keepalives() int {
	return int(p.keepalives.Load())
}

// DropConnections closes every WebSocket connection abruptly (TCP close
// without a WebSocket close frame), as a crashed or restarted server would.
func (p *Peer) DropConnections() {
	p.mu.Lock()
	conns := make([]*flowConn, 0, len(p.flows))
	for _, f := range p.flows {
		conns = append(conns, f)
	}
	p.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// readFilter sees raw WebSocket message payloads before SIP parsing.
// sipgo's WS transport itself answers "\r\n\r\n" with "\r\n" and skips any
// CRLF-only message; returning nothing makes it skip the message silently.
func (p *Peer) readFilter(_ sip.TransportReadProps, data []byte) ([]byte, error) {
	if len(data) <= 4 && len(bytes.Trim(data, "\r\n")) == 0 {
		p.keepalives.Add(1)
		if !p.respondKeepalive.Load() {
			return nil, nil
		}
	}
	return data, nil
}

// onMessage is a transport-layer hook. It runs in the connection's read
// goroutine for every parsed message, in wire order.
func (p *Peer) onMessage(msg sip.Message) {
	req, ok := msg.(*sip.Request)
	if !ok {
		if res, ok := msg.(*sip.Response); ok {
			p.onResponse(res)
		}
		return
	}
	p.record(req)
}

// onResponse passes responses to a Call's INVITE to the Call, in wire order.
func (p *Peer) onResponse(res *sip.Response) {
	cseq, from, cid := res.CSeq(), res.From(), res.CallID()
	if cseq == nil || from == nil || cid == nil || cseq.MethodName != sip.INVITE {
		return
	}
	tag, _ := from.Params.Get("tag")
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.dialogs[dialogKey{callID: cid.Value(), localTag: tag}]
	if d == nil || d.call == nil || d.call.inviteSeq != cseq.SeqNo {
		return
	}
	d.call.onWireResponseLocked(res)
	p.notifyLocked()
}

// record stores a copy of req in the request log, and in its dialog's log
// if it is an in-dialog request, exactly once. Both onMessage (in the read
// goroutine, in wire order) and the request handler (in a goroutine of
// sipgo's transaction layer, possibly earlier) call it before anything may
// modify req, so the copy shows the request as received, and a request is
// logged before the handler answers it.
func (p *Peer) record(req *sip.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.seen[req]; ok {
		return
	}
	c := copyRequest(req)
	p.seen[req] = c
	p.requests = append(p.requests, c)
	if to := c.To(); to != nil {
		if tag, ok := to.Params.Get("tag"); ok && tag != "" {
			if cid := c.CallID(); cid != nil {
				if d := p.dialogs[dialogKey{callID: cid.Value(), localTag: tag}]; d != nil {
					d.received = append(d.received, c)
					d.taken = append(d.taken, false)
				}
			}
		}
	}
	p.notifyLocked()
}

// copyRequest copies a received request without touching fields that
// sipgo's transaction layer writes concurrently (Request.Clone reads them).
func copyRequest(req *sip.Request) *sip.Request {
	c := sip.NewRequest(req.Method, *req.Recipient.Clone())
	c.SipVersion = req.SipVersion
	for _, h := range req.CloneHeaders() {
		c.AppendHeader(h)
	}
	if b := req.Body(); b != nil {
		c.SetBody(append([]byte(nil), b...))
	}
	c.SetTransport(req.Transport())
	c.SetSource(req.Source())
	return c
}

// notifyLocked wakes every waiter. p.mu must be held.
func (p *Peer) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// waitUntil blocks until check (called with p.mu held) reports done, ctx
// ends or the peer closes. check may return a wake-up time for conditions
// that change with time alone (binding expiry).
func (p *Peer) waitUntil(ctx context.Context, check func(now time.Time) (done bool, wake time.Time)) error {
	for {
		p.mu.Lock()
		done, wake := check(time.Now())
		ch, closed := p.changed, p.closed
		p.mu.Unlock()
		if done {
			return nil
		}
		if closed {
			return ErrClosed
		}
		var timer *time.Timer
		var timeC <-chan time.Time
		if !wake.IsZero() {
			timer = time.NewTimer(time.Until(wake))
			timeC = timer.C
		}
		select {
		case <-ch:
		case <-timeC:
		case <-ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// track registers a peer goroutine or blocking handler for Close to wait
// for. It reports false if the peer is closing.
func (p *Peer) track() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Add(1)
	return true
}

// handleRequest receives every request for which sipgo created a server
// transaction. sipgo terminates the transaction when it returns.
func (p *Peer) handleRequest(req *sip.Request, tx sip.ServerTransaction) {
	p.record(req)
	if req.IsAck() {
		return // ACKs are handled in onMessage and need no answer
	}
	if !p.track() {
		p.respond(tx, req, 503, nil)
		return
	}
	defer p.wg.Done()

	if req.To() == nil || req.From() == nil || req.CallID() == nil {
		p.respond(tx, req, 400, nil)
		return
	}
	if tag, _ := req.To().Params.Get("tag"); tag != "" {
		p.handleInDialog(req, tx)
		return
	}
	switch req.Method {
	case sip.REGISTER:
		p.handleRegister(req, tx)
	case sip.INVITE:
		p.handleInvite(req, tx)
	case sip.OPTIONS:
		res := p.newResponse(req, 200, nil)
		res.AppendHeader(sip.NewHeader("Allow", allowMethods))
		res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
		p.send(tx, res)
	case sip.CANCEL:
		// A CANCEL matching a pending INVITE is answered by sipgo itself.
		p.respond(tx, req, 481, nil)
	case sip.BYE:
		p.respond(tx, req, 481, nil)
	default:
		res := p.newResponse(req, 405, nil)
		res.AppendHeader(sip.NewHeader("Allow", allowMethods))
		p.send(tx, res)
	}
}

const allowMethods = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REGISTER"

// newResponse builds a response to req with a standard reason phrase.
func (p *Peer) newResponse(req *sip.Request, code int, body []byte) *sip.Response {
	return sip.NewResponseFromRequest(req, code, reasonPhrase(code), body)
}

func (p *Peer) respond(tx sip.ServerTransaction, req *sip.Request, code int, body []byte) {
	p.send(tx, p.newResponse(req, code, body))
}

func (p *Peer) send(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		p.cfg.Logger.Debug("wspeer: respond failed", "status", res.StatusCode, "error", err)
	}
}

// onStrayResponse receives responses that match no client transaction,
// i.e. retransmitted 2xx for an INVITE whose transaction is over. The ACK
// that was sent for that 2xx is sent again.
func (p *Peer) onStrayResponse(res *sip.Response) {
	cseq := res.CSeq()
	if cseq == nil || cseq.MethodName != sip.INVITE || !res.IsSuccess() {
		return
	}
	from, cid := res.From(), res.CallID()
	if from == nil || cid == nil {
		return
	}
	tag, _ := from.Params.Get("tag")
	p.mu.Lock()
	var ack *sip.Request
	if d := p.dialogs[dialogKey{callID: cid.Value(), localTag: tag}]; d != nil {
		if a := d.acks[cseq.SeqNo]; a != nil {
			ack = a.Clone()
		}
	}
	p.mu.Unlock()
	if ack != nil {
		_ = p.tpl.WriteMsg(ack)
	}
}

// flowListener tracks the connections sipgo accepts.
type flowListener struct {
	net.Listener
	p *Peer
}

func (l *flowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	fc := &flowConn{Conn: c, p: l.p, raddr: c.RemoteAddr().String()}
	l.p.mu.Lock()
	l.p.flows[fc.raddr] = fc
	l.p.mu.Unlock()
	return fc, nil
}

// flowConn is an accepted TCP connection (a WebSocket flow once upgraded).
// sipgo closes it when the UA goes away or reading fails.
type flowConn struct {
	net.Conn
	p     *Peer
	raddr string
	once  sync.Once
}

func (c *flowConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.p.flowClosed(c) })
	return err
}

func (p *Peer) flowClosed(c *flowConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.flows[c.raddr] == c {
		delete(p.flows, c.raddr)
	}
	if !p.cfg.KeepBindingsOnFlowClose {
		kept := p.bindings[:0]
		for _, b := range p.bindings {
			if b.source != c.raddr {
				kept = append(kept, b)
			}
		}
		clear(p.bindings[len(kept):])
		p.bindings = kept
	}
	p.notifyLocked()
}

func (p *Peer) flowAliveLocked(addr string) bool {
	_, ok := p.flows[addr]
	return ok
}

// ownURI reports whether u addresses the peer itself (used to drop the
// peer's own Record-Route entries from route sets: as the proxy it consumes
// them).
func (p *Peer) ownURI(u sip.Uri) bool {
	return u.Host == p.host && u.Port == p.port
}

func (p *Peer) recordRouteHeader() *sip.RecordRouteHeader {
	return &sip.RecordRouteHeader{Address: sip.Uri{
		Scheme:    "sip",
		Host:      p.host,
		Port:      p.port,
		UriParams: sip.HeaderParams{{K: "transport", V: "ws"}, {K: "lr", V: ""}},
	}}
}

func (p *Peer) contactURI(user string) sip.Uri {
	return sip.Uri{
		Scheme:    "sip",
		User:      user,
		Host:      p.host,
		Port:      p.port,
		UriParams: sip.HeaderParams{{K: "transport", V: "ws"}},
	}
}

func (p *Peer) newVia() *sip.ViaHeader {
	v := &sip.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       "WS",
		Host:            p.host,
		Port:            p.port,
	}
	v.Params.Add("branch", sip.RFC3261BranchMagicCookie+randHex(8))
	return v
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randSeq() uint32 {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return 1 + uint32(b[0]&0x3f)<<8 | uint32(b[1]) // 1 .. 16384
}

func reasonPhrase(code int) string {
	switch code {
	case 100:
		return "Trying"
	case 180:
		return "Ringing"
	case 181:
		return "Call Is Being Forwarded"
	case 182:
		return "Queued"
	case 183:
		return "Session Progress"
	case 200:
		return "OK"
	case 202:
		return "Accepted"
	case 302:
		return "Moved Temporarily"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 407:
		return "Proxy Authentication Required"
	case 408:
		return "Request Timeout"
	case 480:
		return "Temporarily Unavailable"
	case 481:
		return "Call/Transaction Does Not Exist"
	case 486:
		return "Busy Here"
	case 487:
		return "Request Terminated"
	case 488:
		return "Not Acceptable Here"
	case 491:
		return "Request Pending"
	case 500:
		return "Server Internal Error"
	case 503:
		return "Service Unavailable"
	case 600:
		return "Busy Everywhere"
	case 603:
		return "Decline"
	}
	switch {
	case code < 200:
		return "Session Progress"
	case code < 300:
		return "OK"
	case code < 400:
		return "Redirect"
	case code < 500:
		return "Client Error"
	case code < 600:
		return "Server Error"
	}
	return "Global Failure"
}
