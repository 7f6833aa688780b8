//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/agentbar/agentbar/wasm/core"
)

// closeUnauthorized is the close status of a missing, bad or expired token.
const closeUnauthorized = 4001

// channel is the control channel client: it opens the WebSocket (the JWT
// offered as a subprotocol the first time, sent with the resume point in
// an auth message on every reconnect), matches replies to commands, hands
// hello and events to the app in order, and reconnects with backoff.
type channel struct {
	url    string
	token  func() string                                  // the current session token
	ending func() bool                                    // the token expires without a successor: a drop is the end
	resume func() uint64                                  // the last seq the bar has seen
	onMsg  func(m core.ServerMessage)                     // hello, event, error; in order
	onLink func(state core.Link, code int, reason string) // channel up or down

	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	conn    *websocket.Conn
	pending map[string]chan core.ServerMessage
	next    int
	tokenID string // a "token" message waiting for its answer
}

func newChannel(url string) *channel {
	ctx, cancel := context.WithCancel(context.Background())
	return &channel{url: url, ctx: ctx, cancel: cancel, pending: map[string]chan core.ServerMessage{}}
}

// start opens the channel and waits for hello; from then on the channel
// keeps itself open until close. With resume (a bar reloaded with a saved
// session) the first connection already sends the resume point in an auth
// message, as a reconnect does, so the events after it replay.
func (c *channel) start(ctx context.Context, resume bool) error {
	conn, hello, err := c.connect(ctx, !resume)
	if err != nil {
		return err
	}
	c.up(conn, hello)
	go c.run(conn)
	return nil
}

// connect dials and authenticates, returning the hello.
func (c *channel) connect(ctx context.Context, first bool) (*websocket.Conn, core.ServerMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	protos := []string{core.Subprotocol}
	if first {
		protos = append(protos, core.TokenPrefix+c.token())
	}
	conn, _, err := websocket.Dial(ctx, c.url, &websocket.DialOptions{Subprotocols: protos})
	if err != nil {
		return nil, core.ServerMessage{}, errorf("unavailable", "control channel: %v", err)
	}
	conn.SetReadLimit(1 << 20)
	if !first {
		seq := c.resume()
		auth := core.Command{Type: "auth", Token: c.token()}
		if seq > 0 {
			auth.Resume = &seq
		}
		if err := writeJSON(ctx, conn, auth); err != nil {
			conn.CloseNow()
			return nil, core.ServerMessage{}, errorf("unavailable", "control channel: %v", err)
		}
	}
	for {
		m, err := readMsg(ctx, conn)
		if err != nil {
			conn.CloseNow()
			if websocket.CloseStatus(err) == closeUnauthorized {
				return nil, m, errorf("unauthorized", "the session is no longer valid: sign in again")
			}
			return nil, m, errorf("unavailable", "control channel: %v", err)
		}
		switch m.Type {
		case "hello":
			return conn, m, nil
		case "error":
			if m.Error != nil && m.Error.Code == "unauthorized" {
				conn.CloseNow()
				return nil, m, errorf("unauthorized", "%s", m.Error.Message)
			}
		}
	}
}

func (c *channel) up(conn *websocket.Conn, hello core.ServerMessage) {
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
	c.onMsg(hello)
	c.onLink(core.LinkOpen, 0, "")
}

// run serves the open connection and reconnects when it drops, until
// close or an authentication failure.
func (c *channel) run(conn *websocket.Conn) {
	for {
		err := c.serve(conn)
		c.mu.Lock()
		c.conn = nil
		pending := c.pending
		c.pending = map[string]chan core.ServerMessage{}
		c.mu.Unlock()
		for _, ch := range pending {
			ch <- core.ServerMessage{Type: "reply", Error: &core.ErrorBody{Code: "unavailable", Message: "the control channel closed"}}
		}
		status := int(websocket.CloseStatus(err))
		if c.ctx.Err() != nil {
			c.onLink(core.LinkClosed, int(websocket.StatusNormalClosure), "closed")
			return
		}
		if status == closeUnauthorized {
			c.onLink(core.LinkClosed, status, errText(err))
			return
		}
		if c.ending != nil && c.ending() {
			// The server closes the channel when its token expires (the
			// browser does not tell us the close code): do not come back
			// with that token.
			c.onLink(core.LinkClosed, closeUnauthorized, "the session token expired")
			return
		}
		c.onLink(core.LinkConnecting, status, errText(err))
		for attempt := 0; ; attempt++ {
			d := core.Backoff(attempt, 500*time.Millisecond, 30*time.Second)
			d += time.Duration(rand.Int64N(int64(d/2) + 1))
			select {
			case <-c.ctx.Done():
				return
			case <-time.After(d):
			}
			next, hello, err := c.connect(c.ctx, false)
			if err == nil {
				conn = next
				c.up(conn, hello)
				break
			}
			if c.ctx.Err() != nil {
				return
			}
			if codeOf(err) == "unauthorized" {
				c.onLink(core.LinkClosed, closeUnauthorized, errText(err))
				return
			}
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// serve reads until the connection fails.
func (c *channel) serve(conn *websocket.Conn) error {
	for {
		m, err := readMsg(c.ctx, conn)
		if err != nil {
			conn.CloseNow()
			return err
		}
		if m.Type == "error" && m.ID == "" && m.Error != nil && m.Error.Code == "unauthorized" {
			// The server refuses a bad fresh token with an error message
			// (no id): it answers the token message still waiting.
			c.mu.Lock()
			if c.tokenID != "" {
				m.Type, m.ID = "reply", c.tokenID
			}
			c.mu.Unlock()
		}
		if m.Type == "reply" {
			c.mu.Lock()
			ch := c.pending[m.ID]
			delete(c.pending, m.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		c.onMsg(m)
	}
}

// do sends one command (or a "token" message) and waits for its reply; a
// refusal is a *codedError with the server's code.
func (c *channel) do(ctx context.Context, cmd core.Command) (core.ServerMessage, error) {
	c.mu.Lock()
	conn := c.conn
	if conn == nil {
		c.mu.Unlock()
		return core.ServerMessage{}, errorf("unavailable", "the control channel is not connected")
	}
	c.next++
	id := "c" + strconv.Itoa(c.next)
	ch := make(chan core.ServerMessage, 1)
	c.pending[id] = ch
	if cmd.Type == "token" {
		c.tokenID = id
	}
	c.mu.Unlock()
	if cmd.Type == "token" {
		defer func() {
			c.mu.Lock()
			if c.tokenID == id {
				c.tokenID = ""
			}
			c.mu.Unlock()
		}()
	}
	if cmd.Type == "" {
		cmd.Type = "cmd"
	}
	cmd.ID = id
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := writeJSON(ctx, conn, cmd); err != nil {
		c.forget(id)
		return core.ServerMessage{}, errorf("unavailable", "%s: %v", cmd.Op, err)
	}
	select {
	case r := <-ch:
		if r.OK == nil || !*r.OK {
			e := r.Error
			if e == nil {
				e = &core.ErrorBody{Code: "internal", Message: "no reason given"}
			}
			return r, &codedError{Code: e.Code, Message: e.Message}
		}
		return r, nil
	case <-ctx.Done():
		c.forget(id)
		return core.ServerMessage{}, errorf("unavailable", "%s: no reply", cmd.Op+cmd.Type)
	}
}

func (c *channel) forget(id string) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// close ends the channel for good.
func (c *channel) close() {
	c.cancel()
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn != nil {
		conn.Close(websocket.StatusNormalClosure, "signed out")
	}
}

func writeJSON(ctx context.Context, conn *websocket.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return conn.Write(ctx, websocket.MessageText, b)
}

func readMsg(ctx context.Context, conn *websocket.Conn) (core.ServerMessage, error) {
	var m core.ServerMessage
	typ, b, err := conn.Read(ctx)
	if err != nil {
		return m, err
	}
	if typ != websocket.MessageText {
		return m, errors.New("control channel: binary message")
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, errors.New("control channel: bad JSON from the server")
	}
	return m, nil
}
