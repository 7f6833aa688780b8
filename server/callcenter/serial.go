package callcenter

import (
	"context"
	"sync"
)

// serial runs posted functions one at a time, in the order posted, on a
// goroutine of its own that exists only while there is work. It carries
// each agent's events (so a sink sees them in order, from one goroutine at
// a time) and each leg's SIP requests (so a re-INVITE and a BYE never
// overtake each other).
type serial struct {
	spawn   func(func())
	mu      sync.Mutex
	queue   []func()
	running bool
}

func newSerial(spawn func(func())) *serial { return &serial{spawn: spawn} }

// post queues fn; it never blocks.
func (s *serial) post(fn func()) {
	s.mu.Lock()
	s.queue = append(s.queue, fn)
	if s.running {
		s.mu.Unlock()
		return
	}
	s.running = true
	s.mu.Unlock()
	s.spawn(s.drain)
}

func (s *serial) drain() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		fn := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		s.mu.Unlock()
		fn()
	}
}

// tracker counts the goroutines a CallCenter started, so Close can wait
// for them. Unlike sync.WaitGroup it may gain work while someone waits.
type tracker struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed while n == 0
}

func newTracker() *tracker {
	t := &tracker{idle: make(chan struct{})}
	close(t.idle)
	return t
}

// Go runs fn on a new goroutine and counts it.
func (t *tracker) Go(fn func()) {
	t.mu.Lock()
	if t.n == 0 {
		t.idle = make(chan struct{})
	}
	t.n++
	t.mu.Unlock()
	go func() {
		defer t.done()
		fn()
	}()
}

func (t *tracker) done() {
	t.mu.Lock()
	t.n--
	if t.n == 0 {
		close(t.idle)
	}
	t.mu.Unlock()
}

// Wait returns once no counted goroutine runs, or ctx ends.
func (t *tracker) Wait(ctx context.Context) error {
	for {
		t.mu.Lock()
		idle, n := t.idle, t.n
		t.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// after collects what to do once the call center's lock is released: SIP
// signalling, media teardown, anything that may block or call back.
type after []func()

// do adds fn to the list.
func (a *after) do(fn func()) { *a = append(*a, fn) }

// run runs the list in order.
func (a after) run() {
	for _, fn := range a {
		fn()
	}
}
