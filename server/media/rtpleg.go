package media

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"

	"github.com/pion/rtp"
)

// defaultEventPT is the telephone-event payload type of our offers.
const defaultEventPT = 101

// RTPLeg is a plain RTP trunk leg: RTP/AVP over UDP, PCMU on payload type
// 0, RFC 4733 telephone-events in both directions. It binds one UDP port
// and uses it to send and receive (symmetric RTP); it sends to the address
// in the remote description and takes packets from any source. It
// implements Port.
type RTPLeg struct {
	conn   *net.UDPConn
	ip     net.IP
	stream *stream
	wg     sync.WaitGroup

	mu        sync.Mutex
	sessionID uint64
	version   uint64
	offered   string // direction of our last offer
	local     string // direction we declared last
	remote    audioDesc
	eventPT   uint8 // telephone-event payload type we receive
}

// NewRTPLeg binds a UDP port on ip (a specific address: it goes into the
// session descriptions) and starts receiving.
func NewRTPLeg(ip string) (*RTPLeg, error) {
	addr := net.ParseIP(ip)
	if addr == nil || addr.IsUnspecified() {
		return nil, fmt.Errorf("media: RTP leg needs a specific IP address, not %q", ip)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: addr})
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	l := &RTPLeg{
		conn:      conn,
		ip:        addr,
		stream:    newStream(nil),
		sessionID: rand.Uint64() >> 2,
		eventPT:   defaultEventPT,
	}
	l.wg.Add(1)
	go l.readLoop()
	return l, nil
}

// Addr is the local UDP address.
func (l *RTPLeg) Addr() *net.UDPAddr { return l.conn.LocalAddr().(*net.UDPAddr) }

// readLoop receives packets until the socket closes.
func (l *RTPLeg) readLoop() {
	defer l.wg.Done()
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, _, err := l.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if p.Unmarshal(buf[:n]) != nil || p.Version != 2 {
			continue
		}
		l.mu.Lock()
		eventPT := l.eventPT
		l.mu.Unlock()
		kind := payloadOther
		switch p.PayloadType {
		case 0:
			kind = payloadPCMU
		case eventPT:
			kind = payloadEvent
		}
		l.stream.receive(&p.Header, p.Payload, kind)
	}
}

// description writes our session description with direction dir,
// offering telephone-events on eventPT. l.mu must be held.
func (l *RTPLeg) description(dir string, eventPT uint8, withEvents bool) []byte {
	l.version++
	family := "IP4"
	if l.ip.To4() == nil {
		family = "IP6"
	}
	port := l.Addr().Port
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=agentbar %d %d IN %s %s\r\ns=agentbar\r\nc=IN %s %s\r\nt=0 0\r\n",
		l.sessionID, l.version, family, l.ip, family, l.ip)
	if withEvents {
		fmt.Fprintf(&b, "m=audio %d RTP/AVP 0 %d\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-15\r\n",
			port, eventPT, eventPT, eventPT)
	} else {
		fmt.Fprintf(&b, "m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n", port)
	}
	b.WriteString("a=ptime:20\r\na=" + dir + "\r\n")
	return []byte(b.String())
}

// Offer returns an offer with direction dir (sendrecv, sendonly, recvonly
// or inactive; anything else counts as sendrecv). It is also how to put
// the far end on hold and take it off again.
func (l *RTPLeg) Offer(dir string) []byte {
	if !isDirection(dir) {
		dir = SendRecv
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.offered = dir
	l.eventPT = defaultEventPT
	return l.description(dir, defaultEventPT, true)
}

// Answer applies a remote offer and returns our answer.
func (l *RTPLeg) Answer(offer []byte) ([]byte, error) {
	d, err := parseAudio(offer)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	dir := answerDirection(d.direction)
	l.apply(d, dir)
	return l.description(dir, d.eventPT, d.haveEvent), nil
}

// SetAnswer applies the remote answer to our last offer. A second answer
// (the final one after a provisional one) replaces the first.
func (l *RTPLeg) SetAnswer(answer []byte) error {
	d, err := parseAudio(answer)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.offered == "" {
		return errors.New("media: answer without an offer")
	}
	l.apply(d, l.offered)
	return nil
}

// apply makes a negotiated description current. l.mu must be held.
func (l *RTPLeg) apply(d audioDesc, local string) {
	l.remote, l.local = d, local
	if d.haveEvent {
		l.eventPT = d.eventPT
	}
	addr := d.addr
	write := func(h *rtp.Header, payload []byte) (int, error) {
		p := rtp.Packet{Header: *h, Payload: payload}
		b, err := p.Marshal()
		if err != nil {
			return 0, err
		}
		return l.conn.WriteToUDP(b, addr)
	}
	l.stream.bind(write, l.stream.ssrcOrNew(), d.audioPT, d.eventPT, d.haveEvent)
	l.stream.setSend(canSend(local, d.direction) && !addr.IP.IsUnspecified())
}

// ReadFrame returns the next 20 ms received, or silence after one frame
// period without any.
func (l *RTPLeg) ReadFrame(ctx context.Context) (Frame, error) { return l.stream.readFrame(ctx) }

// WriteFrame sends 20 ms when the negotiated directions allow sending.
func (l *RTPLeg) WriteFrame(f Frame) error { return l.stream.writeFrame(&f) }

// SendDTMF sends digits (0-9, *, #, A-D) as RFC 4733 events, in the
// background, if the far end takes telephone-events.
func (l *RTPLeg) SendDTMF(digits string) error { return l.stream.sendDTMF(digits) }

// Stats reports packets, levels and received digits.
func (l *RTPLeg) Stats() Stats { return l.stream.stats() }

// Direction is the direction the far end declared last ("" before any).
func (l *RTPLeg) Direction() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.remote.direction
}

// Close stops the leg and releases its port.
func (l *RTPLeg) Close() error {
	l.stream.close()
	err := l.conn.Close()
	l.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
