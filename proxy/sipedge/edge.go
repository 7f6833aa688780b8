package sipedge

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/coder/websocket"
	gosip "github.com/emiago/sipgo/sip"
)

// Subprotocol is the WebSocket subprotocol of SIP (RFC 7118).
const Subprotocol = "sip"

// TokenProtocolPrefix marks the second subprotocol a browser offers to carry
// its bearer token: "access_token.<jwt>".
const TokenProtocolPrefix = "access_token."

// DefaultMaxMessageSize bounds one SIP message when Config.MaxMessageSize is 0.
const DefaultMaxMessageSize = 64 << 10

// Authorizer decides who opens a flow. It is called before the WebSocket
// upgrade with a copy of the request whose Authorization header carries the
// bearer token ("Bearer <jwt>") taken from the "access_token." subprotocol,
// and returns the agent's SIP user name. An error or an empty name refuses
// the upgrade with 401. The error is logged, so it must not quote the token.
type Authorizer func(r *http.Request) (agent string, err error)

// Config configures an Edge. Upstream and Authorize are required.
type Config struct {
	// Upstream is the registrar or proxy everything is relayed to: a SIP
	// URI ("sip:127.0.0.1:5060;transport=udp", transport udp, tcp, ws or
	// wss) or a WebSocket URL ("ws://127.0.0.1:8080/").
	Upstream string
	// Authorize identifies the agent of each upgrade.
	Authorize Authorizer
	// AllowedOrigins lists the exact Origin values allowed to upgrade;
	// empty allows only the page's own host (and clients sending no Origin).
	AllowedOrigins []string
	// MaxMessageSize bounds one SIP message in bytes; default 64 KiB. A
	// larger WebSocket message closes the flow (status 1009).
	MaxMessageSize int
	// Logger receives structured logs; default discards. Tokens and
	// credentials are never logged.
	Logger *slog.Logger
	// OnFlow, if set, is called when a flow opens (open true) and after it
	// has closed, for metrics and audit. It must not block.
	OnFlow func(agent string, open bool)
}

// Edge relays SIP between the pages' WebSockets and the upstream. It is an
// http.Handler; mount it on GET /v1/sip.
type Edge struct {
	cfg    Config
	log    *slog.Logger
	parser *gosip.Parser
	up     *upstream
	retx   *retransmitter // nil unless the upstream is UDP

	ctx    context.Context // ends at Close; flows read under it
	cancel context.CancelFunc
	wg     sync.WaitGroup // ServeHTTP calls that hold a flow

	mu     sync.Mutex
	flows  map[string]*flow // by flow token
	closed bool
}

// New checks the configuration and starts the upstream side: a UDP socket
// at once, or a TCP or WebSocket connection dialed in the background (and
// redialed whenever it breaks).
func New(cfg Config) (*Edge, error) {
	if cfg.Authorize == nil {
		return nil, errors.New("sipedge: Config.Authorize is required")
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	tgt, err := parseUpstream(cfg.Upstream)
	if err != nil {
		return nil, err
	}
	e := &Edge{
		cfg:    cfg,
		log:    cfg.Logger,
		parser: gosip.NewParser(),
		flows:  map[string]*flow{},
	}
	e.parser.MaxMessageLength = cfg.MaxMessageSize
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.up, err = startUpstream(e.ctx, tgt, cfg.MaxMessageSize, e.log, e.fromUpstream)
	if err != nil {
		e.cancel()
		return nil, err
	}
	if tgt.transport == "UDP" {
		e.retx = newRetransmitter(e.up.send)
	}
	return e, nil
}

// Flows returns the number of open flows.
func (e *Edge) Flows() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.flows)
}

// Close closes every flow (WebSocket status 1001) and the upstream side,
// and waits for them to finish. The Edge refuses new upgrades with 503.
func (e *Edge) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	flows := make([]*flow, 0, len(e.flows))
	for _, f := range e.flows {
		flows = append(flows, f)
	}
	e.mu.Unlock()
	// Each close waits for the page's close frame (up to 5 s): in parallel.
	var closing sync.WaitGroup
	for _, f := range flows {
		closing.Go(func() { f.close(websocket.StatusGoingAway, "edge closing", nil) })
	}
	closing.Wait()
	e.cancel()
	e.wg.Wait()
	if e.retx != nil {
		e.retx.close()
	}
	e.up.wait()
	return nil
}

// ServeHTTP checks and upgrades one WebSocket and relays its SIP messages
// until either side closes it.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "WebSocket upgrade required", http.StatusUpgradeRequired)
		return
	}
	if !e.originAllowed(r) {
		e.log.Info("sipedge: upgrade refused: origin not allowed", "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	if !offersSubprotocol(r, Subprotocol) {
		http.Error(w, `WebSocket subprotocol "sip" required`, http.StatusBadRequest)
		return
	}
	agent, err := e.authorize(r)
	if err != nil {
		e.log.Info("sipedge: upgrade refused: not authorized", "remote", r.RemoteAddr, "err", err)
		w.Header().Set("WWW-Authenticate", `Bearer realm="agentbar"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}

	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		http.Error(w, "closing", http.StatusServiceUnavailable)
		return
	}
	e.wg.Add(1)
	e.mu.Unlock()
	defer e.wg.Done()

	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:       []string{Subprotocol},
		InsecureSkipVerify: true, // the Origin was checked above, against our own policy
	})
	if err != nil {
		e.log.Debug("sipedge: upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	ws.SetReadLimit(int64(e.cfg.MaxMessageSize))
	viaTransport := "WS"
	if r.TLS != nil {
		viaTransport = "WSS"
	}
	f := newFlow(ws, agent, remoteIP(r), viaTransport, e.log)
	if !e.addFlow(f) {
		f.close(websocket.StatusGoingAway, "edge closing", nil)
		return
	}
	go f.writeLoop()
	e.log.Info("sipedge: flow open", "agent", agent, "flow", f.id(), "remote", r.RemoteAddr)
	if e.cfg.OnFlow != nil {
		e.cfg.OnFlow(agent, true)
	}
	for {
		_, data, err := ws.Read(e.ctx)
		if err != nil {
			f.close(websocket.StatusNormalClosure, "", err)
			break
		}
		e.fromPage(f, data)
	}
	e.removeFlow(f)
	<-f.written
	e.log.Info("sipedge: flow closed", "agent", agent, "flow", f.id(), "reason", f.reason())
	if e.cfg.OnFlow != nil {
		e.cfg.OnFlow(agent, false)
	}
}

// authorize copies the token of the "access_token." subprotocol into the
// Authorization header of a copy of r and asks the Authorizer.
func (e *Edge) authorize(r *http.Request) (string, error) {
	rr := r
	if tok := subprotocolToken(r); tok != "" {
		rr = r.Clone(r.Context())
		rr.Header.Set("Authorization", "Bearer "+tok)
	}
	agent, err := e.cfg.Authorize(rr)
	if err != nil {
		return "", err
	}
	if agent == "" {
		return "", errors.New("sipedge: authorizer returned no agent")
	}
	return agent, nil
}

// originAllowed applies the Origin policy: an exact match with
// AllowedOrigins, or, when that list is empty, the request's own host (or no
// Origin at all, which no browser omits).
func (e *Edge) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if len(e.cfg.AllowedOrigins) == 0 {
		if origin == "" {
			return true
		}
		u, err := url.Parse(origin)
		return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
	}
	for _, a := range e.cfg.AllowedOrigins {
		if origin == a {
			return true
		}
	}
	return false
}

// subprotocolToken returns the token offered as "access_token.<token>", or "".
func subprotocolToken(r *http.Request) string {
	for _, p := range headerTokens(r.Header, "Sec-WebSocket-Protocol") {
		if tok, ok := strings.CutPrefix(p, TokenProtocolPrefix); ok && tok != "" {
			return tok
		}
	}
	return ""
}

// offersSubprotocol tells whether the client offers the subprotocol name.
func offersSubprotocol(r *http.Request, name string) bool {
	for _, p := range headerTokens(r.Header, "Sec-WebSocket-Protocol") {
		if p == name {
			return true
		}
	}
	return false
}

// headerHasToken tells whether a comma-separated header lists tok (case-insensitive).
func headerHasToken(h http.Header, name, tok string) bool {
	for _, t := range headerTokens(h, name) {
		if strings.EqualFold(t, tok) {
			return true
		}
	}
	return false
}

// headerTokens splits every value of a comma-separated header into trimmed tokens.
func headerTokens(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

// remoteIP is the client's IP address, for the received parameter of its Via.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}

// addFlow registers a new flow, unless the edge is closing.
func (e *Edge) addFlow(f *flow) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.flows[f.token] = f
	return true
}

// removeFlow forgets a flow; requests for its token get 430 from now on.
func (e *Edge) removeFlow(f *flow) {
	e.mu.Lock()
	if e.flows[f.token] == f {
		delete(e.flows, f.token)
	}
	e.mu.Unlock()
	f.close(websocket.StatusNormalClosure, "", nil)
}

// flow returns the open flow with this token, or nil.
func (e *Edge) flow(token string) *flow {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.flows[token]
}
