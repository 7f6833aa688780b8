package media

import (
	"context"
	"math"
	"testing"
	"time"
)

// TestBridgeMixMinus checks one mixing cycle sample by sample: each of
// three ports hears exactly the sum of the other two.
func TestBridgeMixMinus(t *testing.T) {
	b := newBridge()
	defer b.Close()
	ports := []*capturePort{{}, {}, {}}
	freqs := []float64{500, 700, 900}
	in := make([]Frame, 3)
	for i, p := range ports {
		b.Add(p)
		in[i] = tone(freqs[i], 8000, 0)
		feed(t, b, p, in[i])
	}
	b.tick()
	for i, p := range ports {
		got := p.frames()
		if len(got) != 1 {
			t.Fatalf("port %d got %d frames", i, len(got))
		}
		for j := range FrameSamples {
			want := int32(0)
			for k := range in {
				if k != i {
					want += int32(in[k][j])
				}
			}
			if int32(got[0][j]) != want {
				t.Fatalf("port %d sample %d: %d, want %d", i, j, got[0][j], want)
			}
		}
	}
	// A port with nothing ready contributes silence; the others still mix.
	feed(t, b, ports[0], in[0])
	b.tick()
	if got := ports[2].frames()[1]; got != in[0] {
		t.Errorf("port 2 should hear port 0 alone")
	}
	if got := ports[0].frames()[1]; got != (Frame{}) {
		t.Errorf("port 0 should hear silence")
	}
}

func TestBridgeClips(t *testing.T) {
	b := newBridge()
	defer b.Close()
	ports := []*capturePort{{}, {}, {}}
	var loud, quiet Frame
	for i := range loud {
		loud[i], quiet[i] = 30000, -30000
	}
	for _, p := range ports {
		b.Add(p)
	}
	feed(t, b, ports[0], loud)
	feed(t, b, ports[1], loud)
	b.tick()
	if got := ports[2].frames()[0][0]; got != math.MaxInt16 {
		t.Errorf("positive sum: %d, want %d", got, math.MaxInt16)
	}
	feed(t, b, ports[0], quiet)
	feed(t, b, ports[1], quiet)
	b.tick()
	if got := ports[2].frames()[1][0]; got != math.MinInt16 {
		t.Errorf("negative sum: %d, want %d", got, math.MinInt16)
	}
}

// TestBridgeHoldTone holds one of three ports: it hears 440 Hz beeps and
// nobody hears it; off hold it is back in the mix.
func TestBridgeHoldTone(t *testing.T) {
	b := newBridge()
	defer b.Close()
	a, p2, p3 := &capturePort{}, &capturePort{}, &capturePort{}
	for _, p := range []*capturePort{a, p2, p3} {
		b.Add(p)
	}
	b.Hold(a, true)
	const cycles = 50 // one second: one beep and one pause
	for n := range cycles {
		feed(t, b, a, tone(500, 8000, n))
		feed(t, b, p2, tone(700, 8000, n))
		feed(t, b, p3, tone(900, 8000, n))
		b.tick()
	}
	heard := a.frames()
	on, off := samples(heard[:25]), samples(heard[25:])
	if p := power(on, 440); p < 5000 {
		t.Errorf("held port: 440 Hz at %.0f during the beep", p)
	}
	for _, f := range []float64{700, 900} {
		if p := power(on, f); p > 50 {
			t.Errorf("held port hears %v Hz (%.0f)", f, p)
		}
	}
	if l := Level(heard[30]); l != SilenceLevel {
		t.Errorf("pause between beeps at %.1f dBFS", l)
	}
	if len(off) == 0 || Level(heard[10]) < -25 {
		t.Errorf("beep level %.1f dBFS", Level(heard[10]))
	}
	other := samples(p2.frames())
	if p := power(other, 500); p > 50 {
		t.Errorf("others hear the held port (%.0f)", p)
	}
	if p := power(other, 900); p < 7000 {
		t.Errorf("port 2 hears port 3 at %.0f", p)
	}

	b.Hold(a, false)
	for n := range 5 {
		feed(t, b, a, tone(500, 8000, n))
		feed(t, b, p2, tone(700, 8000, n))
		feed(t, b, p3, tone(900, 8000, n))
		b.tick()
	}
	back := samples(a.frames()[cycles:])
	if p := power(back, 700); p < 7000 {
		t.Errorf("off hold: port 1 hears port 2 at %.0f", p)
	}
	if p := power(back, 440); p > 50 {
		t.Errorf("off hold: still the tone (%.0f)", p)
	}
	if p := power(samples(p2.frames()[cycles:]), 500); p < 7000 {
		t.Errorf("off hold: port 2 hears port 1 at %.0f", p)
	}
	t.Logf("hold tone beep %.1f dBFS", Level(heard[10]))
}

// TestBridgeSimParties runs a real-time bridge: two simulated customers
// hear each other, then a third joins a conference.
func TestBridgeSimParties(t *testing.T) {
	b := NewBridge()
	defer b.Close()
	a, c := NewSimParty(1), NewSimParty(2)
	defer a.Close()
	defer c.Close()
	b.Add(a)
	b.Add(c)
	heard := func(ps ...*SimParty) func() bool {
		return func() bool {
			for _, p := range ps {
				if st := p.Stats(); st.LevelIn < -35 || st.PacketsIn < 25 {
					return false
				}
			}
			return true
		}
	}
	waitFor(t, 5*time.Second, "two parties to hear each other", heard(a, c))
	t.Logf("call: a %+v", a.Stats())
	t.Logf("call: c %+v", c.Stats())

	d := NewSimParty(3)
	defer d.Close()
	b.Add(d)
	waitFor(t, 5*time.Second, "the third party to hear the others", heard(d))
	t.Logf("conference: d %+v", d.Stats())

	// Taking both others out leaves d alone in silence.
	b.Remove(a)
	b.Remove(c)
	waitFor(t, 5*time.Second, "silence for the last party", func() bool { return d.Stats().LevelIn == SilenceLevel })
}

// TestBridgeHoldRealTime holds a simulated customer on a running bridge.
func TestBridgeHoldRealTime(t *testing.T) {
	b := NewBridge()
	defer b.Close()
	a, c := NewSimParty(4), NewSimParty(5)
	defer a.Close()
	defer c.Close()
	b.Add(a)
	b.Add(c)
	waitFor(t, 5*time.Second, "audio", func() bool { return c.Stats().LevelIn > -35 })
	b.Hold(a, true)
	waitFor(t, 5*time.Second, "c to stop hearing a", func() bool { return c.Stats().LevelIn == SilenceLevel })
	waitFor(t, 5*time.Second, "a to hear the tone", func() bool { return a.Stats().LevelIn > -30 })
	t.Logf("on hold: a %+v, c %+v", a.Stats(), c.Stats())
	b.Hold(a, false)
	waitFor(t, 5*time.Second, "c to hear a again", func() bool { return c.Stats().LevelIn > -35 })
}

// TestBridgeDropsClosedPort: a port whose reads fail leaves the bridge.
func TestBridgeDropsClosedPort(t *testing.T) {
	b := NewBridge()
	defer b.Close()
	a, c := NewSimParty(6), NewSimParty(7)
	defer c.Close()
	b.Add(a)
	b.Add(c)
	a.Close()
	waitFor(t, 5*time.Second, "the closed port to leave", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.members) == 1
	})
	if _, err := a.ReadFrame(context.Background()); err != ErrClosed {
		t.Errorf("read after close: %v", err)
	}
}
