package media

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"
)

// SampleRate is the audio sample rate in Hz (narrowband telephony).
const SampleRate = 8000

// FrameSamples is the number of samples in one frame: 20 ms at SampleRate.
const FrameSamples = 160

// FramePeriod is the duration of one frame.
const FramePeriod = 20 * time.Millisecond

// SilenceLevel is the level reported for digital silence (and anything
// quieter), in dBFS.
const SilenceLevel = -100.0

// levelWindow is the span over which Stats levels are measured.
const levelWindow = 500 * time.Millisecond

// meterFrames is how many frames fill levelWindow.
const meterFrames = int(levelWindow / FramePeriod)

// ErrClosed is returned by the methods of a closed Port.
var ErrClosed = errors.New("media: port closed")

// Frame is 20 ms of signed 16-bit linear PCM at 8 kHz.
type Frame [FrameSamples]int16

// Port is one party as the call center sees it.
type Port interface {
	// ReadFrame returns the next 20 ms the party sent. If nothing arrived in
	// time it returns silence; it never blocks much longer than one frame
	// period. Once the port is closed it returns an error.
	ReadFrame(ctx context.Context) (Frame, error)
	// WriteFrame hands over 20 ms the party should hear.
	WriteFrame(f Frame) error
	// Stats reports counters and levels.
	Stats() Stats
	// Close releases the port's resources.
	Close() error
}

// Stats are a port's counters and levels.
type Stats struct {
	PacketsIn  uint64  // packets (frames, for ports without a network) received from the party
	PacketsOut uint64  // packets (frames) sent to the party
	LevelIn    float64 // RMS dBFS of what the party sent over the last ~500 ms; SilenceLevel for silence
	LevelOut   float64 // RMS dBFS of what the party was sent over the last ~500 ms
	Digits     string  // RFC 4733 digits received, in order
}

// Level returns the RMS level of f in dBFS, where a full-scale square wave
// is 0 dBFS and a full-scale sine about -3 dBFS. Digital silence, and
// anything below SilenceLevel, gives SilenceLevel.
func Level(f Frame) float64 {
	return dBFS(energy(&f), FrameSamples)
}

// energy is the sum of the squared samples of f.
func energy(f *Frame) float64 {
	var sum int64
	for _, s := range f {
		sum += int64(s) * int64(s)
	}
	return float64(sum)
}

// dBFS turns a sum of squares over n samples into a level.
func dBFS(sumSquares float64, n int) float64 {
	if sumSquares <= 0 || n <= 0 {
		return SilenceLevel
	}
	l := 10 * math.Log10(sumSquares/float64(n)/(32768.0*32768.0))
	if l < SilenceLevel {
		return SilenceLevel
	}
	return l
}

// meter measures the level of a stream of frames over the last
// levelWindow of wall-clock time. Frames that did not arrive count as
// silence, so a stream that stops fades to SilenceLevel.
type meter struct {
	mu     sync.Mutex
	at     [meterFrames]time.Time
	energy [meterFrames]float64
	next   int
}

// add records a frame seen at now.
func (m *meter) add(now time.Time, f *Frame) {
	e := energy(f)
	m.mu.Lock()
	m.at[m.next] = now
	m.energy[m.next] = e
	m.next = (m.next + 1) % meterFrames
	m.mu.Unlock()
}

// level is the level over the window ending at now.
func (m *meter) level(now time.Time) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var sum float64
	for i := range m.at {
		if !m.at[i].IsZero() && now.Sub(m.at[i]) < levelWindow {
			sum += m.energy[i]
		}
	}
	return dBFS(sum, meterFrames*FrameSamples)
}
