package media

import (
	"math"
	"testing"
	"time"
)

func TestPCMURoundTrip(t *testing.T) {
	var f Frame
	worst := 0.0
	for start := math.MinInt16; start <= math.MaxInt16; start += FrameSamples {
		for i := range f {
			f[i] = int16(min(start+i, math.MaxInt16))
		}
		enc := EncodePCMU(f)
		if len(enc) != FrameSamples {
			t.Fatalf("encoded %d bytes", len(enc))
		}
		dec := DecodePCMU(enc)
		for i, x := range f {
			y := dec[i]
			ax := math.Abs(float64(x))
			if ax > ulawClip {
				// Clipped: the largest code, 32124 either way.
				if want := int16(math.Copysign(32124, float64(x))); y != want {
					t.Fatalf("%d -> %d, want %d", x, y, want)
				}
				continue
			}
			// Half a quantisation step of the segment: step/2 = 4<<seg and
			// |x|+132 >= 128<<seg, so the error is at most (|x|+132)/32.
			err := math.Abs(float64(y) - float64(x))
			if bound := (ax + ulawBias) / 32; err > bound {
				t.Fatalf("%d -> %d: error %.0f > %.1f", x, y, err, bound)
			}
			if ax >= 1000 {
				worst = max(worst, err/ax)
			}
		}
	}
	t.Logf("worst relative error above 1000: %.2f%%", 100*worst)
}

func TestPCMUCodes(t *testing.T) {
	for c := range 256 {
		b := byte(c)
		got := ulawEncode(ulawDecode(b))
		want := b
		if b == 0x7f {
			want = 0xff // negative zero decodes to 0, which encodes as positive zero
		}
		if got != want {
			t.Errorf("code %#02x -> %d -> %#02x", b, ulawDecode(b), got)
		}
	}
	for _, tc := range []struct {
		code byte
		lin  int16
	}{{0xff, 0}, {0x80, 32124}, {0x00, -32124}, {0xfe, 8}, {0x7e, -8}, {0xf0, 120}, {0xef, 132}, {0xdf, 396}} {
		if got := ulawDecode(tc.code); got != tc.lin {
			t.Errorf("decode %#02x = %d, want %d", tc.code, got, tc.lin)
		}
	}
	if got := EncodePCMU(Frame{})[0]; got != 0xff {
		t.Errorf("silence encodes as %#02x, want 0xff", got)
	}
	if got := DecodePCMU([]byte{0x80}); got[0] != 32124 || got[1] != 0 {
		t.Errorf("short input: %v", got[:2])
	}
}

func TestPCMUSignalToNoise(t *testing.T) {
	v := newVoice(7)
	var sig, noise float64
	for range 250 {
		var f Frame
		v.frame(&f)
		d := DecodePCMU(EncodePCMU(f))
		for i := range f {
			e := float64(d[i]) - float64(f[i])
			sig += float64(f[i]) * float64(f[i])
			noise += e * e
		}
	}
	snr := 10 * math.Log10(sig/noise)
	t.Logf("G.711 SNR on the simulated voice: %.1f dB", snr)
	if snr < 30 {
		t.Errorf("SNR %.1f dB, want at least 30 (G.711 gives about 38)", snr)
	}
}

func TestLevel(t *testing.T) {
	if got := Level(Frame{}); got != SilenceLevel {
		t.Errorf("silence: %v", got)
	}
	var square Frame
	for i := range square {
		square[i] = 32767
		if i%2 == 1 {
			square[i] = -32767
		}
	}
	if got := Level(square); math.Abs(got) > 0.01 {
		t.Errorf("full-scale square: %.2f dBFS, want 0", got)
	}
	// 1 kHz: a whole number of periods in a frame.
	if got := Level(tone(1000, 32767, 0)); math.Abs(got+3.01) > 0.05 {
		t.Errorf("full-scale sine: %.2f dBFS, want -3.01", got)
	}
	if got := Level(tone(1000, 3277, 0)); math.Abs(got+23.01) > 0.05 {
		t.Errorf("-20 dB sine: %.2f dBFS, want -23.01", got)
	}
}

func TestMeterWindow(t *testing.T) {
	var m meter
	t0 := time.Now()
	loud := tone(1000, 32767, 0)
	for i := range meterFrames {
		m.add(t0.Add(time.Duration(i)*FramePeriod), &loud)
	}
	now := t0.Add(time.Duration(meterFrames-1) * FramePeriod)
	if got := m.level(now); math.Abs(got+3.01) > 0.05 {
		t.Errorf("full window: %.2f", got)
	}
	// Half the window later, half the frames count: 3 dB down.
	if got := m.level(now.Add(levelWindow / 2)); math.Abs(got+6.02) > 0.3 {
		t.Errorf("half window: %.2f", got)
	}
	if got := m.level(now.Add(levelWindow)); got != SilenceLevel {
		t.Errorf("after the window: %.2f", got)
	}
}
