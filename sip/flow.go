package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	gosip "github.com/emiago/sipgo/sip"
)

// maxMessageSize bounds one SIP message (one WebSocket message, RFC 7118 §5).
const maxMessageSize = 64 << 10

// writeTimeout bounds one WebSocket write so a stuck peer cannot block a caller forever.
const writeTimeout = 10 * time.Second

// flow is one SIP-over-WebSocket connection (RFC 7118): each WebSocket message
// carries exactly one SIP message, or an RFC 5626 keep-alive (CRLFCRLF ping,
// CRLF pong). It implements sipgo's sip.Connection so that sipgo transactions
// write through it. A flow never redials: the UA replaces a dead flow.
type flow struct {
	ws    *websocket.Conn
	local net.Addr
	ref   atomic.Int32

	pong      chan struct{} // an RFC 5626 pong (CRLF) arrived
	closeOnce sync.Once
	done      chan struct{}
	err       error // why the flow ended; set before done is closed
}

// wsAddr is the flow's local address as sipgo sees it: the UA's .invalid host.
type wsAddr string

func (a wsAddr) Network() string { return "ws" }
func (a wsAddr) String() string  { return string(a) }

// dialFlow opens a WebSocket to url offering protocols ("sip" first) and
// refuses a server that does not pick "sip" (RFC 7118 §4.1).
func dialFlow(ctx context.Context, url, localHost string, protocols []string) (*flow, error) {
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: protocols})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTransport, err)
	}
	if ws.Subprotocol() != "sip" {
		ws.Close(websocket.StatusProtocolError, "subprotocol sip required")
		return nil, fmt.Errorf("%w: server did not accept the WebSocket subprotocol \"sip\"", ErrTransport)
	}
	ws.SetReadLimit(maxMessageSize)
	return newFlow(ws, localHost), nil
}

func newFlow(ws *websocket.Conn, localHost string) *flow {
	return &flow{ws: ws, local: wsAddr(localHost), pong: make(chan struct{}, 1), done: make(chan struct{})}
}

// gotPong records a keep-alive pong without blocking.
func (f *flow) gotPong() {
	select {
	case f.pong <- struct{}{}:
	default:
	}
}

// drainPong forgets a pong that arrived before the next ping.
func (f *flow) drainPong() {
	select {
	case <-f.pong:
	default:
	}
}

// read returns the next WebSocket message. It fails once the flow is closed.
func (f *flow) read(ctx context.Context) ([]byte, error) {
	_, data, err := f.ws.Read(ctx)
	if err != nil {
		f.fail(fmt.Errorf("%w: %v", ErrTransport, err))
		return nil, f.err
	}
	return data, nil
}

// writeRaw sends one WebSocket message: text when the bytes are UTF-8, binary
// otherwise (RFC 7118 §5.1 allows both).
func (f *flow) writeRaw(b []byte) error {
	select {
	case <-f.done:
		return f.err
	default:
	}
	typ := websocket.MessageText
	if !utf8.Valid(b) {
		typ = websocket.MessageBinary
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := f.ws.Write(ctx, typ, b); err != nil {
		f.fail(fmt.Errorf("%w: %v", ErrTransport, err))
		return f.err
	}
	return nil
}

// WriteMsg implements sip.Connection. Every message carries Content-Length,
// which RFC 7118 leaves optional but proxies such as Kamailio check.
func (f *flow) WriteMsg(msg gosip.Message) error {
	if msg.ContentLength() == nil {
		cl := gosip.ContentLengthHeader(len(msg.Body()))
		msg.AppendHeader(&cl)
	}
	return f.writeRaw([]byte(msg.String()))
}

// LocalAddr implements sip.Connection.
func (f *flow) LocalAddr() net.Addr { return f.local }

// Ref implements sip.Connection; the UA owns the flow's lifetime, so the count is informational.
func (f *flow) Ref(i int) int { return int(f.ref.Add(int32(i))) }

// TryClose implements sip.Connection. Transactions never close the UA's flow.
func (f *flow) TryClose() (int, error) { return int(f.ref.Add(-1)), nil }

// Close implements sip.Connection and closes the WebSocket with a normal closure.
func (f *flow) Close() error {
	f.fail(ErrClosed)
	return nil
}

// fail ends the flow once, remembering the first cause.
func (f *flow) fail(cause error) {
	f.closeOnce.Do(func() {
		f.err = cause
		close(f.done)
		if errors.Is(cause, ErrClosed) {
			f.ws.Close(websocket.StatusNormalClosure, "")
		} else {
			f.ws.CloseNow()
		}
	})
}
