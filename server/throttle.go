package server

import (
	"sync"
	"time"
)

// throttle slows password guessing at POST /v1/session. Each key (an agent
// id, a client address) has a bucket of burst failures that refills at one
// per every; while a key's bucket is empty its sign-ins are refused before
// the password is even checked. Only failures take from a bucket, and a
// success refills the agent's.
type throttle struct {
	burst float64
	every time.Duration
	max   int // keys remembered; beyond it, full buckets are forgotten first
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	left float64   // failures still allowed
	at   time.Time // when left was computed
}

func newThrottle(burst int, every time.Duration, now func() time.Time) *throttle {
	return &throttle{burst: float64(burst), every: every, max: 100_000, now: now, buckets: map[string]*bucket{}}
}

// refill brings b up to now; the caller holds mu.
func (t *throttle) refill(b *bucket, now time.Time) {
	b.left = min(t.burst, b.left+float64(now.Sub(b.at))/float64(t.every))
	b.at = now
}

// wait is how long until every key may try again; 0 means now.
func (t *throttle) wait(keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var longest time.Duration
	for _, k := range keys {
		b := t.buckets[k]
		if b == nil {
			continue
		}
		t.refill(b, now)
		if b.left < 1 {
			longest = max(longest, time.Duration((1-b.left)*float64(t.every)))
		}
	}
	return longest
}

// fail takes one failure from each key's bucket.
func (t *throttle) fail(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, k := range keys {
		b := t.buckets[k]
		if b == nil {
			if len(t.buckets) >= t.max {
				t.forgetFull(now)
			}
			b = &bucket{left: t.burst, at: now}
			t.buckets[k] = b
		}
		t.refill(b, now)
		b.left = max(0, b.left-1)
	}
}

// succeed forgets key's failures.
func (t *throttle) succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.buckets, key)
}

// forgetFull drops the buckets that have refilled; if none has, it drops
// an arbitrary half, so memory stays bounded under a flood of keys.
func (t *throttle) forgetFull(now time.Time) {
	for k, b := range t.buckets {
		if t.refill(b, now); b.left >= t.burst {
			delete(t.buckets, k)
		}
	}
	for k := range t.buckets {
		if len(t.buckets) < t.max/2 {
			break
		}
		delete(t.buckets, k)
	}
}
