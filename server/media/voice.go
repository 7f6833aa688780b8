package media

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// voice synthesises a speech-like signal: a harmonic series on a gliding
// fundamental, shaped into syllables of 120-280 ms with short pauses
// between them. It is deterministic for a given seed.
type voice struct {
	rng    *rand.Rand
	weight [harmonics]float64 // relative amplitude of each harmonic
	phase  [harmonics]float64
	f0, df float64 // fundamental (Hz) and its change per sample
	pos    int     // sample position in the current syllable or pause
	length int     // length of the current syllable or pause, in samples
	talk   bool    // in a syllable (not a pause)
	gain   float64 // syllable peak amplitude
}

// harmonics is the number of harmonics in the voice.
const harmonics = 5

// newVoice returns a voice seeded with seed. Harmonic k has amplitude
// k^-0.75, a crude vowel-like spectrum falling with frequency.
func newVoice(seed int64) *voice {
	v := &voice{rng: rand.New(rand.NewPCG(uint64(seed), 0x766f696365))}
	for k := range v.weight {
		v.weight[k] = math.Pow(float64(k+1), -0.75)
	}
	return v
}

// next starts the next syllable or pause.
func (v *voice) next() {
	v.pos = 0
	v.talk = !v.talk
	if !v.talk {
		v.length = SampleRate * (40 + v.rng.IntN(120)) / 1000
		return
	}
	v.length = SampleRate * (120 + v.rng.IntN(160)) / 1000
	start := 110 + 130*v.rng.Float64()
	end := start * (0.8 + 0.4*v.rng.Float64())
	v.f0 = start
	v.df = (end - start) / float64(v.length)
	v.gain = 6000 + 4000*v.rng.Float64()
}

// frame fills f with the next 20 ms.
func (v *voice) frame(f *Frame) {
	for i := range f {
		if v.pos >= v.length {
			v.next()
		}
		var s float64
		if v.talk {
			// Raised-cosine syllable envelope.
			env := 0.5 - 0.5*math.Cos(2*math.Pi*float64(v.pos)/float64(v.length))
			for k, w := range v.weight {
				v.phase[k] += 2 * math.Pi * float64(k+1) * v.f0 / SampleRate
				if v.phase[k] > 2*math.Pi {
					v.phase[k] -= 2 * math.Pi
				}
				s += w * math.Sin(v.phase[k])
			}
			s *= v.gain * env
			v.f0 += v.df
		}
		f[i] = int16(s)
		v.pos++
	}
}

// SimParty is a simulated customer: what it sends is a voice-like signal
// paced in real time, and it measures what it hears. It implements Port;
// its packet counters count frames.
type SimParty struct {
	mu     sync.Mutex
	voice  *voice
	start  time.Time // when frame 0 was due
	frames int64     // frames produced since start

	closeOnce sync.Once
	done      chan struct{}

	in, out   meter
	framesIn  atomic.Uint64
	framesOut atomic.Uint64
}

// NewSimParty returns a simulated party whose voice is derived from seed.
func NewSimParty(seed int64) *SimParty {
	return &SimParty{voice: newVoice(seed), done: make(chan struct{})}
}

// ReadFrame returns the party's next 20 ms of voice when it is due: frames
// come out at the real-time rate of one per FramePeriod. A caller that fell
// more than a few frames behind skips ahead instead of catching up.
func (p *SimParty) ReadFrame(ctx context.Context) (Frame, error) {
	var f Frame
	select {
	case <-p.done:
		return f, ErrClosed
	default:
	}
	now := time.Now()
	p.mu.Lock()
	if p.start.IsZero() || now.Sub(p.start.Add(time.Duration(p.frames)*FramePeriod)) > 5*FramePeriod {
		p.start, p.frames = now, 0
	}
	due := p.start.Add(time.Duration(p.frames) * FramePeriod)
	p.frames++
	p.voice.frame(&f)
	p.mu.Unlock()

	if wait := due.Sub(now); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return Frame{}, ctx.Err()
		case <-p.done:
			return Frame{}, ErrClosed
		}
	}
	p.out.add(time.Now(), &f)
	p.framesOut.Add(1)
	return f, nil
}

// WriteFrame takes 20 ms the party hears and meters it.
func (p *SimParty) WriteFrame(f Frame) error {
	select {
	case <-p.done:
		return ErrClosed
	default:
	}
	p.in.add(time.Now(), &f)
	p.framesIn.Add(1)
	return nil
}

// Stats reports frames and levels: LevelIn is what the party heard,
// LevelOut what it said.
func (p *SimParty) Stats() Stats {
	now := time.Now()
	return Stats{
		PacketsIn:  p.framesIn.Load(),
		PacketsOut: p.framesOut.Load(),
		LevelIn:    p.in.level(now),
		LevelOut:   p.out.level(now),
	}
}

// Close stops the party; later reads and writes fail with ErrClosed.
func (p *SimParty) Close() error {
	p.closeOnce.Do(func() { close(p.done) })
	return nil
}
