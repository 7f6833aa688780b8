package sipedge

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// tokenLen is the length of a flow token: 16 random bytes in base32.
const tokenLen = 26

// outQueue is how many messages may wait for a slow page before the edge
// drops what comes next (the upstream retransmits over UDP).
const outQueue = 128

// writeTimeout bounds one WebSocket write; a page that stalls longer loses its flow.
const writeTimeout = 10 * time.Second

// Errors of flow.send.
var (
	errFlowClosed = errors.New("sipedge: flow closed")
	errQueueFull  = errors.New("sipedge: flow queue full")
)

// flow is one page's WebSocket. Messages to the page go through a queue and
// one writer goroutine, so a slow page never holds up the upstream reader.
type flow struct {
	token        string // routing key in Via branches, Path and Record-Route
	agent        string // authenticated SIP user name
	remoteIP     string // for the received parameter of the page's Via
	viaTransport string // WS or WSS, in our Via toward the page
	ws           *websocket.Conn
	log          *slog.Logger

	out     chan []byte
	done    chan struct{} // closed when the flow closes
	written chan struct{} // closed when writeLoop has returned

	once  sync.Once
	mu    sync.Mutex
	cause string // why the flow closed, for the log
}

func newFlow(ws *websocket.Conn, agent, remoteIP, viaTransport string, log *slog.Logger) *flow {
	return &flow{
		token:        newToken(),
		agent:        agent,
		remoteIP:     remoteIP,
		viaTransport: viaTransport,
		ws:           ws,
		log:          log,
		out:          make(chan []byte, outQueue),
		done:         make(chan struct{}),
		written:      make(chan struct{}),
	}
}

// newToken returns a fresh flow token: 128 random bits, lower-case base32.
func newToken() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("sipedge: crypto/rand failed: " + err.Error())
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// validToken tells whether s has the form of a flow token.
func validToken(s string) bool {
	if len(s) != tokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// id is a short, log-safe name of the flow (a prefix of its token).
func (f *flow) id() string { return f.token[:6] }

// send queues one message for the page without blocking.
func (f *flow) send(b []byte) error {
	select {
	case <-f.done:
		return errFlowClosed
	default:
	}
	select {
	case f.out <- b:
		return nil
	case <-f.done:
		return errFlowClosed
	default:
		return errQueueFull
	}
}

// writeLoop writes queued messages to the WebSocket until the flow closes:
// text frames when the bytes are UTF-8, binary otherwise (RFC 7118 §5.1).
func (f *flow) writeLoop() {
	defer close(f.written)
	for {
		select {
		case <-f.done:
			return
		case b := <-f.out:
			typ := websocket.MessageText
			if !utf8.Valid(b) {
				typ = websocket.MessageBinary
			}
			ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
			err := f.ws.Write(ctx, typ, b)
			cancel()
			if err != nil {
				f.close(websocket.StatusInternalError, "write failed", err)
				return
			}
		}
	}
}

// close ends the flow once, with a WebSocket close status for the page and
// a cause for the log.
func (f *flow) close(code websocket.StatusCode, reason string, cause error) {
	f.once.Do(func() {
		f.mu.Lock()
		switch {
		case cause != nil:
			f.cause = cause.Error()
		case reason != "":
			f.cause = reason
		default:
			f.cause = "closed"
		}
		f.mu.Unlock()
		close(f.done)
		if cause != nil {
			f.ws.CloseNow() // the connection already failed or the page closed it
			return
		}
		if err := f.ws.Close(code, reason); err != nil {
			f.log.Debug("sipedge: websocket close", "flow", f.id(), "err", err)
		}
	})
}

// reason says why the flow closed.
func (f *flow) reason() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cause
}
