package callcenter

import (
	"context"
	"errors"
	"sync"
	"time"
)

// FakeMedia is a MediaFactory without audio. Its legs write plain PCMU SDP
// and answer any offer, its ports produce 20 ms frames of silence, and its
// bridges only remember who is in and who is held. It is the default media
// (signalling works, nobody hears anything) and what the tests use.
type FakeMedia struct {
	mu      sync.Mutex
	port    int // next fake RTP port
	bridges []*FakeBridge
}

// NewFakeMedia returns an empty FakeMedia.
func NewFakeMedia() *FakeMedia { return &FakeMedia{port: 40000} }

func (m *FakeMedia) nextPort() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.port += 2
	return m.port
}

// NewAgentLeg implements MediaFactory.
func (m *FakeMedia) NewAgentLeg(func(rune)) (AgentLeg, error) {
	return &fakeLeg{rtp: m.nextPort()}, nil
}

// NewTrunkLeg implements MediaFactory.
func (m *FakeMedia) NewTrunkLeg() (TrunkLeg, error) {
	return fakeTrunkLeg{&fakeLeg{rtp: m.nextPort()}}, nil
}

// NewCustomer implements MediaFactory.
func (m *FakeMedia) NewCustomer() (Port, error) { return &fakePort{}, nil }

// NewBridge implements MediaFactory.
func (m *FakeMedia) NewBridge() Bridge {
	b := &FakeBridge{held: map[Port]bool{}}
	m.mu.Lock()
	m.bridges = append(m.bridges, b)
	m.mu.Unlock()
	return b
}

// Bridges returns the bridges made so far, oldest first.
func (m *FakeMedia) Bridges() []*FakeBridge {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*FakeBridge(nil), m.bridges...)
}

// FakeBridge is the bridge of FakeMedia: it mixes nothing.
type FakeBridge struct {
	mu     sync.Mutex
	held   map[Port]bool // member -> held
	closed bool
}

// Add implements Bridge.
func (b *FakeBridge) Add(p Port) {
	b.mu.Lock()
	b.held[p] = false
	b.mu.Unlock()
}

// Remove implements Bridge.
func (b *FakeBridge) Remove(p Port) {
	b.mu.Lock()
	delete(b.held, p)
	b.mu.Unlock()
}

// Hold implements Bridge.
func (b *FakeBridge) Hold(p Port, on bool) {
	b.mu.Lock()
	if _, ok := b.held[p]; ok {
		b.held[p] = on
	}
	b.mu.Unlock()
}

// Close implements Bridge.
func (b *FakeBridge) Close() {
	b.mu.Lock()
	b.closed = true
	clear(b.held)
	b.mu.Unlock()
}

// Members reports how many ports are in the bridge and how many of them are held.
func (b *FakeBridge) Members() (n, held int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, h := range b.held {
		n++
		if h {
			held++
		}
	}
	return n, held
}

// fakePort produces silence and counts frames.
type fakePort struct {
	mu     sync.Mutex
	stats  PortStats
	dtmf   []rune
	closed bool
}

var errPortClosed = errors.New("callcenter: port closed")

// ReadFrame implements Port: a frame of silence every 20 ms.
func (p *fakePort) ReadFrame(ctx context.Context) (Frame, error) {
	t := time.NewTimer(20 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	case <-t.C:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return Frame{}, errPortClosed
	}
	p.stats.PacketsOut++ // the silence this party "said"
	return Frame{}, nil
}

// WriteFrame implements Port: the frame is counted and dropped.
func (p *fakePort) WriteFrame(Frame) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errPortClosed
	}
	p.stats.PacketsIn++
	return nil
}

// Stats implements Port.
func (p *fakePort) Stats() PortStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Close implements Port.
func (p *fakePort) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	return nil
}

// SendDTMF implements DTMFSender: the digit is remembered.
func (p *fakePort) SendDTMF(d rune) error {
	p.mu.Lock()
	p.dtmf = append(p.dtmf, d)
	p.mu.Unlock()
	return nil
}

// fakeLeg is an agent leg (and, wrapped, a trunk leg) of FakeMedia.
type fakeLeg struct {
	fakePort
	rtp     int
	version int
}

func (l *fakeLeg) sdp(dir string) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.version++
	return plainSDP(l.version, l.rtp, dir)
}

// Offer implements AgentLeg.
func (l *fakeLeg) Offer(_ context.Context, dir string) ([]byte, error) {
	if !isDirection(dir) {
		return nil, errors.New("callcenter: bad SDP direction " + dir)
	}
	return l.sdp(dir), nil
}

// Answer implements AgentLeg: it mirrors the offer's direction.
func (l *fakeLeg) Answer(_ context.Context, offer []byte) ([]byte, error) {
	return l.sdp(answerDirection(sdpDirection(offer))), nil
}

// SetAnswer implements AgentLeg.
func (l *fakeLeg) SetAnswer(answer []byte) error {
	if len(answer) == 0 {
		return errors.New("callcenter: empty SDP answer")
	}
	return nil
}

// fakeTrunkLeg adapts fakeLeg to TrunkLeg.
type fakeTrunkLeg struct{ *fakeLeg }

// Offer implements TrunkLeg.
func (l fakeTrunkLeg) Offer(dir string) []byte {
	b, _ := l.fakeLeg.Offer(context.Background(), dir)
	return b
}

// Answer implements TrunkLeg.
func (l fakeTrunkLeg) Answer(offer []byte) ([]byte, error) {
	return l.fakeLeg.Answer(context.Background(), offer)
}
