package media

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"
)

// waitFor polls cond every frame period until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(FramePeriod)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// tone returns frame number n of a sine of freq Hz and the given amplitude.
func tone(freq float64, amplitude float64, n int) Frame {
	var f Frame
	for i := range f {
		k := float64(n*FrameSamples + i)
		f[i] = int16(amplitude * math.Sin(2*math.Pi*freq*k/SampleRate))
	}
	return f
}

// power returns the relative power of freq in samples (Goertzel), as the
// amplitude of a sine at that frequency would show.
func power(samples []int16, freq float64) float64 {
	w := 2 * math.Pi * freq / SampleRate
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, x := range samples {
		s0 := float64(x) + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	p := s1*s1 + s2*s2 - coeff*s1*s2
	return 2 * math.Sqrt(p) / float64(len(samples))
}

// capturePort is a Port for tests: it records what it is written and
// its ReadFrame has nothing to say (tests feed the bridge directly).
type capturePort struct {
	mu      sync.Mutex
	written []Frame
	closed  bool
}

func (p *capturePort) ReadFrame(ctx context.Context) (Frame, error) {
	<-ctx.Done()
	return Frame{}, ctx.Err()
}

func (p *capturePort) WriteFrame(f Frame) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.written = append(p.written, f)
	return nil
}

func (p *capturePort) Stats() Stats { return Stats{} }

func (p *capturePort) Close() error { return nil }

// frames returns the frames written so far.
func (p *capturePort) frames() []Frame {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Frame(nil), p.written...)
}

// samples flattens frames.
func samples(fs []Frame) []int16 {
	out := make([]int16, 0, len(fs)*FrameSamples)
	for _, f := range fs {
		out = append(out, f[:]...)
	}
	return out
}

// feed puts f into the bridge's buffer for p, as p's reader would.
func feed(t testing.TB, b *Bridge, p Port, f Frame) {
	b.mu.Lock()
	i := b.find(p)
	if i < 0 {
		b.mu.Unlock()
		t.Fatalf("port not in bridge")
	}
	m := b.members[i]
	b.mu.Unlock()
	push(m.in, f)
}

// pump copies a SimParty's voice into a port until ctx ends.
func pump(ctx context.Context, from *SimParty, to Port) {
	for {
		f, err := from.ReadFrame(ctx)
		if err != nil {
			return
		}
		if to.WriteFrame(f) != nil {
			return
		}
	}
}
