package control

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/agentbar/agentbar/proxy/control/wire"
	"github.com/agentbar/agentbar/proxy/gateway"
)

// closeUnauthorized is the close code for a missing, bad or expired token.
const closeUnauthorized = 4001

// ServeHTTP upgrades GET /v1/agent/ws after checking the Origin, then
// starts the channel: authentication, hello, replay from the resume point,
// live events, commands.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !OriginAllowed(r, h.cfg.AllowedOrigins) {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	token := tokenFromSubprotocols(r)
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:       []string{wire.Subprotocol},
		InsecureSkipVerify: true, // the Origin was checked above, against our own policy
	})
	if err != nil {
		return
	}
	if ws.Subprotocol() != wire.Subprotocol {
		ws.Close(websocket.StatusPolicyViolation, "subprotocol "+wire.Subprotocol+" required")
		return
	}
	ws.SetReadLimit(h.cfg.MaxMessage)
	c := &conn{hub: h, ws: ws}
	// The channel outlives the request: it runs on a goroutine of its own,
	// so that the request, its headers and this goroutine's deep stack are
	// freed while the channel idles. The hub's context ends it on Close.
	go c.run(h.ctx, token)
}

// tokenFromSubprotocols finds a JWT offered as "access_token.<jwt>".
func tokenFromSubprotocols(r *http.Request) string {
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			if p = strings.TrimSpace(p); strings.HasPrefix(p, wire.TokenPrefix) {
				return strings.TrimPrefix(p, wire.TokenPrefix)
			}
		}
	}
	return ""
}

// conn is one open control channel.
type conn struct {
	hub     *Hub
	ws      *websocket.Conn
	writeMu sync.Mutex

	mu      sync.Mutex
	agent   string
	token   string      // the channel's current token
	expires time.Time   // the token's
	warned  time.Time   // the expiry last warned about
	timer   *time.Timer // the token's next warning or expiry
}

func (c *conn) send(ctx context.Context, m *wire.ServerMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, b)
}

func (c *conn) sendError(ctx context.Context, code, msg string) {
	c.send(ctx, &wire.ServerMessage{Type: wire.TypeError, Error: &wire.ErrorBody{Code: code, Message: msg}})
}

func (c *conn) run(ctx context.Context, token string) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer c.ws.CloseNow()
	h := c.hub

	var resume *uint64
	if token == "" {
		first, err := c.readFirst(ctx)
		if err != nil {
			return
		}
		token, resume = first.Token, first.Resume
	}
	agent, expires, err := h.cfg.Verify(token)
	if err != nil {
		c.sendError(ctx, wire.CodeUnauthorized, err.Error())
		c.ws.Close(closeUnauthorized, "unauthorized")
		return
	}
	c.agent, c.token, c.expires = agent, token, expires
	h.log.Info("control: channel open", "agent", agent)

	last, err := h.cfg.Log.LastSeq(ctx, agent)
	if err != nil {
		c.sendError(ctx, string(gateway.CodeUnavailable), "event log unavailable")
		c.ws.Close(websocket.StatusTryAgainLater, "event log unavailable")
		return
	}
	snap := gateway.Snapshot{State: gateway.StateSignedOut}
	if s := h.session(agent); s != nil {
		if got, err := s.Snapshot(ctx); err == nil {
			snap = got
		}
	}
	hello := &wire.ServerMessage{Type: wire.TypeHello, V: 1, Agent: agent, Seq: last, Snapshot: &snap, Reasons: h.cfg.Gateway.Reasons(), Expires: &expires}
	if err := c.send(ctx, hello); err != nil {
		return
	}
	from := last
	if resume != nil && *resume <= last {
		from = *resume
	}
	stop, err := h.cfg.Log.Subscribe(ctx, agent, from, func(seq uint64, ev []byte) {
		if c.send(ctx, &wire.ServerMessage{Type: wire.TypeEvent, Seq: seq, Event: ev}) != nil {
			cancel()
		}
		h.cfg.Metrics.EventRelayed(eventAge(ev))
	})
	if err != nil {
		c.ws.Close(websocket.StatusTryAgainLater, "event log unavailable")
		return
	}
	defer stop()
	c.armToken(ctx)
	defer func() {
		c.mu.Lock()
		c.timer.Stop()
		c.mu.Unlock()
	}()

	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusMessageTooBig {
				h.log.Warn("control: oversized message", "agent", agent)
			}
			return
		}
		c.handle(ctx, data)
	}
}

// eventAge is how long ago an event was made (its "time" field).
func eventAge(ev []byte) time.Duration {
	var t struct {
		Time time.Time `json:"time"`
	}
	if json.Unmarshal(ev, &t) != nil || t.Time.IsZero() {
		return 0
	}
	return time.Since(t.Time)
}

// readFirst reads the auth message within the auth timeout.
func (c *conn) readFirst(ctx context.Context) (*wire.ClientMessage, error) {
	actx, cancel := context.WithTimeout(ctx, c.hub.cfg.AuthTimeout)
	defer cancel()
	_, data, err := c.ws.Read(actx)
	if err != nil {
		c.ws.Close(closeUnauthorized, "no auth message")
		return nil, err
	}
	var m wire.ClientMessage
	if json.Unmarshal(data, &m) != nil || m.Type != wire.TypeAuth || m.Token == "" {
		c.sendError(ctx, wire.CodeUnauthorized, "the first message must be {\"type\":\"auth\",\"token\":...}")
		c.ws.Close(closeUnauthorized, "unauthorized")
		return nil, errors.New("no auth")
	}
	return &m, nil
}

// armToken sets the token timer for the current expiry: it fires first
// TokenWarning before it, then at it. A timer rather than a goroutine keeps
// an idle channel small.
func (c *conn) armToken(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	at := c.expires
	if !c.warned.Equal(c.expires) {
		at = at.Add(-c.hub.cfg.TokenWarning)
	}
	if c.timer == nil {
		c.timer = time.AfterFunc(time.Until(at), func() { c.tokenTimer(ctx) })
		return
	}
	c.timer.Reset(time.Until(at))
}

// tokenTimer warns the bar that its token expires soon, or closes the
// channel once it has expired, unless a fresh token came meanwhile.
func (c *conn) tokenTimer(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	c.mu.Lock()
	now, exp := time.Now(), c.expires
	warn := !now.Before(exp.Add(-c.hub.cfg.TokenWarning)) && now.Before(exp) && !c.warned.Equal(exp)
	if warn {
		c.warned = exp
	}
	c.mu.Unlock()
	switch {
	case !now.Before(exp):
		c.ws.Close(closeUnauthorized, "token expired")
		return
	case warn:
		notice, _ := json.Marshal(gateway.Event{Type: gateway.EvNotice, Time: now, Code: "token_expiring", Message: "the session token expires soon: send a fresh one"})
		c.send(ctx, &wire.ServerMessage{Type: wire.TypeEvent, Event: notice})
	}
	c.armToken(ctx)
}

// setToken makes tok, valid until exp, the channel's token.
func (c *conn) setToken(ctx context.Context, tok string, exp time.Time) {
	c.mu.Lock()
	c.token, c.expires = tok, exp
	c.mu.Unlock()
	c.armToken(ctx)
}

// renew answers renew_token: a fresh token for the channel's session,
// which becomes the channel's token.
func (c *conn) renew(ctx context.Context, id string) {
	reply := &wire.ServerMessage{Type: wire.TypeReply, ID: id}
	ok := false
	result := "ok"
	c.mu.Lock()
	old := c.token
	c.mu.Unlock()
	switch {
	case c.hub.cfg.Renew == nil:
		reply.Error = &wire.ErrorBody{Code: string(gateway.CodeUnsupported), Message: "this proxy does not renew tokens: get a fresh one from the page's host"}
	default:
		tok, exp, err := c.hub.cfg.Renew(old)
		if err != nil {
			reply.Error = &wire.ErrorBody{Code: wire.CodeUnauthorized, Message: "the token cannot be renewed: sign in again"}
			var ge *gateway.Error
			if errors.As(err, &ge) {
				reply.Error = &wire.ErrorBody{Code: string(ge.Code), Message: ge.Message}
			}
			break
		}
		c.setToken(ctx, tok, exp)
		ok = true
		reply.Token, reply.Expires = tok, &exp
	}
	if !ok {
		result = reply.Error.Code
	}
	reply.OK = &ok
	c.hub.cfg.Metrics.Command(wire.OpRenewToken, result)
	c.send(ctx, reply)
}

// handle answers one client message. Nothing the bar sends can change
// state unless it is a well-formed, allowed command.
func (c *conn) handle(ctx context.Context, data []byte) {
	h := c.hub
	var m wire.ClientMessage
	if err := json.Unmarshal(data, &m); err != nil {
		c.sendError(ctx, wire.CodeBadJSON, "the message is not valid JSON")
		return
	}
	switch m.Type {
	case wire.TypeToken:
		agent, exp, err := h.cfg.Verify(m.Token)
		if err != nil || agent != c.agent {
			c.sendError(ctx, wire.CodeUnauthorized, "the new token is not valid for this agent")
			return
		}
		c.setToken(ctx, m.Token, exp)
		ok := true
		c.send(ctx, &wire.ServerMessage{Type: wire.TypeReply, ID: m.ID, OK: &ok, Expires: &exp})
		return
	case wire.TypeCmd:
		if m.Op == wire.OpRenewToken {
			c.renew(ctx, m.ID)
			return
		}
	default:
		c.sendError(ctx, wire.CodeBadJSON, "unknown message type")
		return
	}
	if m.ID == "" {
		c.sendError(ctx, string(gateway.CodeBadRequest), "a command needs an id")
		return
	}
	cctx, cancel := context.WithTimeout(ctx, h.cfg.CommandTimeout)
	defer cancel()
	reply, err := h.command(cctx, c.agent, &m)
	if reply == nil {
		reply = &wire.ServerMessage{}
	}
	reply.Type, reply.ID = wire.TypeReply, m.ID
	ok := err == nil
	reply.OK = &ok
	result := "ok"
	if err != nil {
		code := string(gateway.CodeOf(err))
		msg := "internal error"
		var ge *gateway.Error
		if errors.As(err, &ge) {
			msg = ge.Message
		} else {
			h.log.Error("control: command failed", "agent", c.agent, "op", m.Op, "err", err)
		}
		reply.Error = &wire.ErrorBody{Code: code, Message: msg}
		result = code
	}
	h.cfg.Metrics.Command(opLabel(m.Op), result)
	c.send(ctx, reply)
}

// opLabel keeps metric labels to the known operations.
func opLabel(op string) string {
	switch op {
	case wire.OpSignIn, wire.OpSignOut, wire.OpGetState, wire.OpSIPCredentials, wire.OpGetStats:
		return op
	}
	if _, err := toCommand(&wire.ClientMessage{Op: op, Reason: "x", Digits: "1", Target: &gateway.Target{Kind: gateway.TargetAgent, ID: "x"}}); err != nil && gateway.CodeOf(err) == wire.CodeUnknownCommand {
		return "unknown"
	}
	return op
}
