package core

import (
	"math"
	"time"
)

// MOS estimates the mean opinion score (1 to 4.5) of a voice call from
// what getStats reports, with a simplified ITU-T G.107 E-model: the
// effective latency is rtt + 2*jitter + 10 ms (codec), latency above
// 160 ms costs more, and each percent of packet loss costs 2.5.
func MOS(rtt, jitter time.Duration, lossPercent float64) float64 {
	le := float64(rtt+2*jitter)/float64(time.Millisecond) + 10
	r := 93.2
	if le < 160 {
		r -= le / 40
	} else {
		r -= (le - 120) / 10
	}
	r -= 2.5 * math.Max(0, lossPercent)
	switch {
	case r <= 0:
		return 1
	case r >= 100:
		return 4.5
	}
	mos := 1 + 0.035*r + 7e-6*r*(r-60)*(100-r)
	return math.Max(1, math.Min(4.5, mos))
}

// LossPercent is the packet loss between two getStats samples of an
// inbound stream, in percent, from the cumulative counters.
func LossPercent(prevReceived, prevLost, received, lost int64) float64 {
	dr, dl := received-prevReceived, lost-prevLost
	if dl <= 0 || dr+dl <= 0 {
		return 0
	}
	return 100 * float64(dl) / float64(dr+dl)
}

// Backoff is the wait before reconnect attempt n (0 for the first): from
// min doubling up to max. The caller adds jitter.
func Backoff(n int, min, max time.Duration) time.Duration {
	d := min
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}
