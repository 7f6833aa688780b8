package sip

import (
	"context"
	"fmt"
	"sync"
)

// fakeMedia is a Media that writes plain audio SDP and records what the far
// end sent. Direction is what our next offer asks for.
type fakeMedia struct {
	mu        sync.Mutex
	direction SDPDirection
	version   int
	remote    [][]byte // every remote offer or answer applied, in order
	early     int      // provisional answers applied
	fail      error    // returned by every call when set
}

func (m *fakeMedia) sdp(dir SDPDirection) []byte {
	m.version++
	return fmt.Appendf(nil, "v=0\r\no=agentbar 1 %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=%s\r\n", m.version, dir)
}

func (m *fakeMedia) Offer(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	dir := m.direction
	if dir == "" {
		dir = SendRecv
	}
	return m.sdp(dir), nil
}

func (m *fakeMedia) Answer(_ context.Context, offer []byte) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	m.remote = append(m.remote, offer)
	dir := map[SDPDirection]SDPDirection{SendOnly: RecvOnly, RecvOnly: SendOnly, Inactive: Inactive}[sdpDirection(offer)]
	if dir == "" {
		dir = SendRecv
	}
	return m.sdp(dir), nil
}

func (m *fakeMedia) SetAnswer(_ context.Context, answer []byte, provisional bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if len(answer) == 0 {
		return fmt.Errorf("fake media: empty answer")
	}
	m.remote = append(m.remote, answer)
	if provisional {
		m.early++
	}
	return nil
}

func (m *fakeMedia) remotes() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]byte(nil), m.remote...)
}

// testSDP is an audio offer as a far end would send it.
func testSDP(dir SDPDirection) string {
	return "v=0\r\no=far 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 50000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=" + string(dir) + "\r\n"
}
