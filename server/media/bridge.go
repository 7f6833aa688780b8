package media

import (
	"context"
	"math"
	"sync"
	"time"
)

// Hold tone: 440 Hz, 500 ms on and 500 ms off, at about -17 dBFS.
const (
	holdToneHz        = 440
	holdToneAmplitude = 6000
	holdToneCycle     = SampleRate     // samples per on/off cycle
	holdToneOn        = SampleRate / 2 // samples of tone in each cycle
)

// inputFrames is how many frames a bridge buffers per port (the most
// latency it adds when a port delivers faster than the bridge mixes).
const inputFrames = 3

// Bridge mixes its ports every 20 ms: each port hears the sum of the others
// (mix-minus, clipped to 16 bits), so two ports make a plain call and three
// or more a conference. A held port hears a hold tone and is not heard.
//
// The bridge reads each port in a goroutine of its own and mixes on its own
// clock; a port that has nothing ready in a cycle contributes silence. A
// port whose ReadFrame fails other than by cancellation (a closed port)
// leaves the bridge. The bridge never closes its ports.
type Bridge struct {
	mu      sync.Mutex
	members []*member
	closed  bool
	running bool // the mixing goroutine was started

	stop chan struct{}  // closed by Close
	loop chan struct{}  // closed when the mixing goroutine has exited
	wg   sync.WaitGroup // readers

	// Owned by the mixing goroutine (tick).
	ticks   uint64
	current []*member
	held    []bool
	inputs  []Frame
	has     []bool
	sum     [FrameSamples]int32
	tone    Frame
}

// member is a port in a bridge.
type member struct {
	port   Port
	held   bool          // guarded by Bridge.mu
	in     chan Frame    // frames read from the port, oldest first
	cancel func()        // stops the reader
	done   chan struct{} // closed when the reader has exited
}

// NewBridge returns a running bridge with no ports.
func NewBridge() *Bridge {
	b := newBridge()
	b.running = true
	go b.run()
	return b
}

// newBridge returns a bridge whose mixing loop is not started.
func newBridge() *Bridge {
	return &Bridge{stop: make(chan struct{}), loop: make(chan struct{})}
}

// run mixes every FramePeriod until Close.
func (b *Bridge) run() {
	defer close(b.loop)
	t := time.NewTicker(FramePeriod)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.tick()
		}
	}
}

// Add puts p into the bridge. Adding a port twice, or to a closed bridge,
// does nothing.
func (b *Bridge) Add(p Port) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.find(p) >= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{port: p, in: make(chan Frame, inputFrames), cancel: cancel, done: make(chan struct{})}
	b.members = append(b.members, m)
	b.wg.Add(1)
	go b.read(ctx, m)
}

// read moves frames from a port into its member's buffer, dropping the
// oldest when the buffer is full.
func (b *Bridge) read(ctx context.Context, m *member) {
	defer b.wg.Done()
	defer close(m.done)
	for {
		f, err := m.port.ReadFrame(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			b.detach(m)
			return
		}
		push(m.in, f)
	}
}

// push puts f into ch, dropping the oldest frame if ch is full.
func push(ch chan Frame, f Frame) {
	for {
		select {
		case ch <- f:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

// find returns the index of p's member, or -1. b.mu must be held.
func (b *Bridge) find(p Port) int {
	for i, m := range b.members {
		if m.port == p {
			return i
		}
	}
	return -1
}

// detach takes m out of the member list and stops its reader without
// waiting for it.
func (b *Bridge) detach(m *member) {
	b.mu.Lock()
	for i, x := range b.members {
		if x == m {
			b.members = append(b.members[:i:i], b.members[i+1:]...)
			break
		}
	}
	b.mu.Unlock()
	m.cancel()
}

// Remove takes p out of the bridge and returns once the bridge no longer
// reads from it, so p can be added to another bridge right away.
func (b *Bridge) Remove(p Port) {
	b.mu.Lock()
	i := b.find(p)
	if i < 0 {
		b.mu.Unlock()
		return
	}
	m := b.members[i]
	b.mu.Unlock()
	b.detach(m)
	<-m.done
}

// Hold puts p on hold (on) or takes it off hold: a held port hears the
// hold tone instead of the others, and the others no longer hear it.
func (b *Bridge) Hold(p Port, on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i := b.find(p); i >= 0 {
		b.members[i].held = on
	}
}

// Close stops mixing and reading. The ports stay open.
func (b *Bridge) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	members := b.members
	b.members = nil
	b.mu.Unlock()
	close(b.stop)
	for _, m := range members {
		m.cancel()
	}
	b.wg.Wait()
	if b.running {
		<-b.loop
	}
}

// tick runs one mixing cycle: take one frame (or silence) from each port,
// mix, and write each port its share. Only the mixing goroutine calls it.
func (b *Bridge) tick() {
	b.mu.Lock()
	b.current, b.held = b.current[:0], b.held[:0]
	for _, m := range b.members {
		b.current = append(b.current, m)
		b.held = append(b.held, m.held)
	}
	b.mu.Unlock()

	n := len(b.current)
	if cap(b.inputs) < n {
		b.inputs = make([]Frame, n)
		b.has = make([]bool, n)
	}
	b.inputs, b.has = b.inputs[:n], b.has[:n]
	b.sum = [FrameSamples]int32{}
	anyHeld := false
	for i, m := range b.current {
		select {
		case b.inputs[i] = <-m.in:
			b.has[i] = !b.held[i]
		default:
			b.has[i] = false
		}
		anyHeld = anyHeld || b.held[i]
		if b.has[i] {
			for j, s := range &b.inputs[i] {
				b.sum[j] += int32(s)
			}
		}
	}
	if anyHeld {
		holdTone(&b.tone, b.ticks)
	}
	for i, m := range b.current {
		var out Frame
		switch {
		case b.held[i]:
			out = b.tone
		case b.has[i]:
			mixMinus(&out, &b.sum, &b.inputs[i])
		default:
			mixMinus(&out, &b.sum, nil)
		}
		_ = m.port.WriteFrame(out) // a failing port leaves through its reader
	}
	clear(b.current) // do not keep removed ports alive
	b.ticks++
}

// mixMinus writes sum minus own (nil: nothing of its own) into out,
// clipped to 16 bits.
func mixMinus(out *Frame, sum *[FrameSamples]int32, own *Frame) {
	for j := range out {
		v := sum[j]
		if own != nil {
			v -= int32(own[j])
		}
		out[j] = clip16(v)
	}
}

// clip16 saturates v to the int16 range.
func clip16(v int32) int16 {
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(v)
}

// holdTone fills f with the hold tone for mixing cycle tick: 440 Hz beeps,
// 500 ms on and 500 ms off. 440 whole periods fit in a second, so the
// phase is taken modulo one second.
func holdTone(f *Frame, tick uint64) {
	start := tick * FrameSamples
	for i := range f {
		pos := (start + uint64(i)) % holdToneCycle
		if pos >= holdToneOn {
			f[i] = 0
			continue
		}
		f[i] = int16(holdToneAmplitude * math.Sin(2*math.Pi*holdToneHz*float64(pos)/SampleRate))
	}
}
