package sipedge

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	gosip "github.com/emiago/sipgo/sip"
)

// Redial backoff of a broken TCP or WebSocket upstream connection.
const (
	redialMin   = 200 * time.Millisecond
	redialMax   = 10 * time.Second
	dialTimeout = 10 * time.Second
	// upstreamWait is how long a request from a page waits for the
	// upstream connection to come (back) up before it is answered 503.
	upstreamWait = 5 * time.Second
)

// errNoUpstream: the upstream connection is down (the page gets 503).
var errNoUpstream = errors.New("sipedge: upstream not connected")

// target is a parsed Config.Upstream.
type target struct {
	transport string // Via transport: UDP, TCP, WS or WSS
	addr      string // host:port, for UDP and TCP
	url       string // ws:// or wss:// URL, for WS and WSS
}

// parseUpstream reads Config.Upstream: a SIP URI with an optional transport
// parameter (udp, tcp, ws, wss; default udp) or a ws:// or wss:// URL.
func parseUpstream(s string) (target, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return target{}, errors.New("sipedge: Config.Upstream is required")
	}
	low := strings.ToLower(s)
	if strings.HasPrefix(low, "ws://") || strings.HasPrefix(low, "wss://") {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return target{}, fmt.Errorf("sipedge: invalid upstream URL %q", s)
		}
		return target{transport: strings.ToUpper(u.Scheme), url: s}, nil
	}
	var u gosip.Uri
	if err := gosip.ParseUri(s, &u); err != nil || !strings.EqualFold(u.Scheme, "sip") || u.Host == "" {
		return target{}, fmt.Errorf("sipedge: upstream %q: want sip:host[:port][;transport=udp|tcp|ws|wss] or a ws:// or wss:// URL", s)
	}
	tp := "udp"
	if v, ok := u.UriParams.Get("transport"); ok {
		tp = strings.ToLower(v)
	}
	port := u.Port
	if port == 0 {
		port = map[string]int{"udp": 5060, "tcp": 5060, "ws": 80, "wss": 443}[tp]
	}
	hostport := net.JoinHostPort(strings.Trim(u.Host, "[]"), strconv.Itoa(port))
	switch tp {
	case "udp", "tcp":
		return target{transport: strings.ToUpper(tp), addr: hostport}, nil
	case "ws", "wss":
		return target{transport: strings.ToUpper(tp), url: tp + "://" + hostport + "/"}, nil
	}
	return target{}, fmt.Errorf("sipedge: upstream transport %q not supported (udp, tcp, ws, wss)", tp)
}

// link is one connection to the upstream: a connected UDP socket, a TCP
// connection or a WebSocket.
type link interface {
	// read returns the next SIP message (or keep-alive) from the upstream.
	read() ([]byte, error)
	// write sends one SIP message; it is safe for concurrent use.
	write(b []byte) error
	// local is the address the upstream reaches the edge at over this link.
	local() (host string, port int)
	close()
}

// upstream keeps one link to the upstream up and hands every message read
// from it to deliver, from one goroutine.
type upstream struct {
	tp      string // Via transport: UDP, TCP, WS, WSS
	dial    func(ctx context.Context) (link, error)
	deliver func([]byte)
	log     *slog.Logger
	done    chan struct{} // closed when run returns

	mu  sync.Mutex
	cur link          // nil while disconnected
	up  chan struct{} // closed while cur is set
}

// startUpstream starts the upstream side. A UDP socket is opened before it
// returns, so a bad address fails New; stream transports dial in the
// background.
func startUpstream(ctx context.Context, tgt target, maxSize int, log *slog.Logger, deliver func([]byte)) (*upstream, error) {
	u := &upstream{tp: tgt.transport, deliver: deliver, log: log, done: make(chan struct{}), up: make(chan struct{})}
	var first link
	switch tgt.transport {
	case "UDP":
		u.dial = func(context.Context) (link, error) { return dialUDP(tgt.addr) }
		l, err := dialUDP(tgt.addr)
		if err != nil {
			return nil, err
		}
		first = l
	case "TCP":
		u.dial = func(ctx context.Context) (link, error) { return dialTCP(ctx, tgt.addr, maxSize) }
	default:
		u.dial = func(ctx context.Context) (link, error) { return dialWS(ctx, tgt.url, maxSize) }
	}
	go u.run(ctx, first)
	return u, nil
}

// run reads from the link until ctx ends, redialing with backoff.
func (u *upstream) run(ctx context.Context, l link) {
	defer close(u.done)
	backoff := redialMin
	for ctx.Err() == nil {
		if l == nil {
			var err error
			l, err = u.dial(ctx)
			if err != nil {
				u.log.Warn("sipedge: upstream dial failed", "transport", u.tp, "err", err, "retry_in", backoff)
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(backoff*2, redialMax)
				continue
			}
			backoff = redialMin
		}
		host, port := l.local()
		u.log.Info("sipedge: upstream link up", "transport", u.tp, "local", net.JoinHostPort(host, strconv.Itoa(port)))
		u.set(l)
		stop := context.AfterFunc(ctx, l.close)
		var err error
		for {
			var b []byte
			if b, err = l.read(); err != nil {
				break
			}
			u.deliver(b)
		}
		stop()
		u.set(nil)
		l.close()
		l = nil
		if ctx.Err() == nil {
			u.log.Warn("sipedge: upstream link lost", "transport", u.tp, "err", err)
		}
	}
}

func (u *upstream) set(l link) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case l != nil && u.cur == nil:
		close(u.up)
	case l == nil && u.cur != nil:
		u.up = make(chan struct{})
	}
	u.cur = l
}

// await returns the current link, waiting up to d for one while the
// upstream is being dialed; nil if none came up.
func (u *upstream) await(ctx context.Context, d time.Duration) link {
	u.mu.Lock()
	l, up := u.cur, u.up
	u.mu.Unlock()
	if l != nil {
		return l
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-up:
		return u.current()
	case <-t.C:
	case <-ctx.Done():
	}
	return nil
}

// current is the link in use, or nil while there is none.
func (u *upstream) current() link {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.cur
}

// send writes one message on the current link.
func (u *upstream) send(b []byte) error {
	l := u.current()
	if l == nil {
		return errNoUpstream
	}
	return l.write(b)
}

// wait returns once run has returned (after the Edge's context ended).
func (u *upstream) wait() { <-u.done }

// udpLink is a connected UDP socket: it only hears from the upstream address.
type udpLink struct {
	c    *net.UDPConn
	buf  []byte
	host string
	port int
}

func dialUDP(addr string) (*udpLink, error) {
	ra, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("sipedge: upstream %s: %w", addr, err)
	}
	c, err := net.DialUDP("udp", nil, ra)
	if err != nil {
		return nil, fmt.Errorf("sipedge: upstream %s: %w", addr, err)
	}
	la := c.LocalAddr().(*net.UDPAddr)
	return &udpLink{c: c, buf: make([]byte, 65535), host: la.IP.String(), port: la.Port}, nil
}

func (l *udpLink) read() ([]byte, error) {
	for {
		n, err := l.c.Read(l.buf)
		if errors.Is(err, syscall.ECONNREFUSED) {
			continue // an ICMP port unreachable for an earlier datagram: the upstream may come back
		}
		if err != nil {
			return nil, err
		}
		return bytes.Clone(l.buf[:n]), nil
	}
}

func (l *udpLink) write(b []byte) error {
	_, err := l.c.Write(b)
	return err
}

func (l *udpLink) local() (string, int) { return l.host, l.port }
func (l *udpLink) close()               { l.c.Close() }

// tcpLink is a TCP connection carrying SIP framed by Content-Length (RFC 3261 §18.3).
type tcpLink struct {
	c    net.Conn
	r    *bufio.Reader
	max  int
	wmu  sync.Mutex
	host string
	port int
}

func dialTCP(ctx context.Context, addr string, maxSize int) (*tcpLink, error) {
	d := net.Dialer{Timeout: dialTimeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	la := c.LocalAddr().(*net.TCPAddr)
	return &tcpLink{c: c, r: bufio.NewReaderSize(c, maxSize), max: maxSize, host: la.IP.String(), port: la.Port}, nil
}

// read returns the next message: the header lines up to the empty line,
// then Content-Length bytes of body. CRLFs between messages (RFC 5626
// keep-alives) are skipped.
func (l *tcpLink) read() ([]byte, error) {
	var head bytes.Buffer
	for {
		line, err := l.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errors.New("sipedge: header line too long")
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			if head.Len() == 0 {
				continue
			}
			break
		}
		if head.Len()+len(line) > l.max {
			return nil, errors.New("sipedge: message too large")
		}
		head.Write(line)
	}
	n, err := streamContentLength(head.Bytes())
	if err != nil {
		return nil, err
	}
	if head.Len()+2+n > l.max {
		return nil, errors.New("sipedge: message too large")
	}
	msg := make([]byte, head.Len()+2+n)
	copy(msg, head.Bytes())
	copy(msg[head.Len():], "\r\n")
	if _, err := io.ReadFull(l.r, msg[head.Len()+2:]); err != nil {
		return nil, err
	}
	return msg, nil
}

// streamContentLength finds Content-Length (or its compact form "l") in a
// header block; a stream cannot be framed without it.
func streamContentLength(head []byte) (int, error) {
	for _, line := range strings.Split(string(head), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "content-length" && name != "l" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(value))
		if err != nil || n < 0 {
			return 0, errors.New("sipedge: bad Content-Length on stream")
		}
		return n, nil
	}
	return 0, errors.New("sipedge: no Content-Length on stream")
}

func (l *tcpLink) write(b []byte) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.c.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return err
	}
	_, err := l.c.Write(b)
	return err
}

func (l *tcpLink) local() (string, int) { return l.host, l.port }
func (l *tcpLink) close()               { l.c.Close() }

// wsLink is a WebSocket to the upstream (RFC 7118), one SIP message per
// WebSocket message.
type wsLink struct {
	ws   *websocket.Conn
	host string
	port int
}

func dialWS(ctx context.Context, u string, maxSize int) (*wsLink, error) {
	// Dial through our own transport to learn the connection's local
	// address, which names the edge in Via, Path and Record-Route.
	var (
		mu    sync.Mutex
		local *net.TCPAddr
	)
	d := net.Dialer{Timeout: dialTimeout}
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err == nil {
				mu.Lock()
				local, _ = c.LocalAddr().(*net.TCPAddr)
				mu.Unlock()
			}
			return c, err
		},
	}}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc, Subprotocols: []string{Subprotocol}})
	if err != nil {
		return nil, err
	}
	if ws.Subprotocol() != Subprotocol {
		ws.CloseNow()
		return nil, errors.New(`sipedge: upstream did not accept the WebSocket subprotocol "sip"`)
	}
	mu.Lock()
	la := local
	mu.Unlock()
	if la == nil {
		ws.CloseNow()
		return nil, errors.New("sipedge: upstream WebSocket has no local TCP address")
	}
	ws.SetReadLimit(int64(maxSize))
	return &wsLink{ws: ws, host: la.IP.String(), port: la.Port}, nil
}

func (l *wsLink) read() ([]byte, error) {
	_, b, err := l.ws.Read(context.Background())
	return b, err
}

func (l *wsLink) write(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	typ := websocket.MessageText
	if !utf8.Valid(b) {
		typ = websocket.MessageBinary
	}
	return l.ws.Write(ctx, typ, b)
}

func (l *wsLink) local() (string, int) { return l.host, l.port }
func (l *wsLink) close()               { l.ws.CloseNow() }
