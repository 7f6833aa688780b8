package sipedge

import (
	"sync"
	"time"
)

// RFC 3261 timers for the UDP hop.
const (
	t1        = 500 * time.Millisecond
	t2        = 4 * time.Second
	txTimeout = 64 * t1 // Timer B and F
	// maxInFlight bounds the table; past it requests go out once, unguarded.
	maxInFlight = 4096
)

// retransmitter resends requests the pages sent over reliable WebSockets
// and the edge relayed over UDP, where nobody else would: INVITE on Timer A
// until any response, others on Timer E until a final response (every T2
// after a provisional one), all for at most 64*T1 (RFC 3261 §17.1.1.2,
// §17.1.2.2). It is keyed by the edge's branch and the CSeq method.
type retransmitter struct {
	send func([]byte) error

	mu      sync.Mutex
	pending map[string]*inFlight
	closed  bool
}

// inFlight is one request waiting for its response.
type inFlight struct {
	data     []byte
	invite   bool
	interval time.Duration
	deadline time.Time
	timer    *time.Timer
}

func newRetransmitter(send func([]byte) error) *retransmitter {
	return &retransmitter{send: send, pending: map[string]*inFlight{}}
}

// start guards a request just sent. A request sent again under the same key
// restarts its timers.
func (r *retransmitter) start(key string, data []byte, invite bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.pending[key]
	if r.closed || (old == nil && len(r.pending) >= maxInFlight) {
		return
	}
	if old != nil {
		old.timer.Stop()
	}
	p := &inFlight{data: data, invite: invite, interval: t1, deadline: time.Now().Add(txTimeout)}
	p.timer = time.AfterFunc(t1, func() { r.fire(key, p) })
	r.pending[key] = p
}

// fire resends a request and schedules the next resend, or gives up.
func (r *retransmitter) fire(key string, p *inFlight) {
	r.mu.Lock()
	if r.pending[key] != p {
		r.mu.Unlock()
		return
	}
	if !time.Now().Before(p.deadline) {
		delete(r.pending, key)
		r.mu.Unlock()
		return
	}
	if p.invite {
		p.interval *= 2
	} else {
		p.interval = min(p.interval*2, t2)
	}
	p.timer.Reset(p.interval)
	data := p.data
	r.mu.Unlock()
	_ = r.send(data)
}

// response records a response to the request with this key.
func (r *retransmitter) response(key string, status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pending[key]
	if p == nil {
		return
	}
	if p.invite || status >= 200 {
		p.timer.Stop()
		delete(r.pending, key)
		return
	}
	p.interval = t2
}

// close stops every timer.
func (r *retransmitter) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for k, p := range r.pending {
		p.timer.Stop()
		delete(r.pending, k)
	}
}
