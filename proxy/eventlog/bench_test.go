package eventlog

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// benchEvent is a typical event payload (about 200 bytes of JSON).
const benchEvent = (`{"type":"agent.state","agent":"agent-0042","state":"ready","reason":null,` +
	`"call":{"id":"c-5f1e0a","from":"+8613800000000","queue":"sales"},"at":"2026-01-02T03:04:05.678Z"}`)

// BenchmarkAppend measures one synchronous Append to the embedded log.
func BenchmarkAppend(b *testing.B) {
	l := open(b, Config{StoreDir: b.TempDir()})
	ctx := b.Context()
	event := []byte(benchEvent)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchEvent)))
	for b.Loop() {
		if _, err := l.Append(ctx, "bench", event); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendParallel measures Appends from concurrent callers spread
// over 100 agents.
func BenchmarkAppendParallel(b *testing.B) {
	l := open(b, Config{StoreDir: b.TempDir()})
	ctx := b.Context()
	var (
		mu   sync.Mutex
		next int
	)
	event := []byte(benchEvent)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		agent := fmt.Sprintf("agent-%d", next%100)
		next++
		mu.Unlock()
		for pb.Next() {
			if _, err := l.Append(ctx, agent, event); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRelayLatency appends at a steady rate across many agents, each
// watched by one subscriber, and reports the time from the start of Append
// to the delivery to the subscriber. One op is one event.
func BenchmarkRelayLatency(b *testing.B) {
	for _, m := range modes() {
		b.Run(m.name, func(b *testing.B) { benchRelay(b, m.cfg(b), 100, 2000) })
	}
}

func benchRelay(b *testing.B, cfg Config, agents, rate int) {
	l := open(b, cfg)
	ctx := b.Context()
	n := b.N
	base := time.Now()
	// Each event carries the offset from base at which its Append began.
	stamp := func() []byte {
		return strconv.AppendInt([]byte(`{"t":`), int64(time.Since(base)), 10)
	}

	lat := make([][]time.Duration, agents)
	var wg sync.WaitGroup
	for a := range agents {
		count := n / agents
		if a < n%agents {
			count++
		}
		if count == 0 {
			continue
		}
		lat[a] = make([]time.Duration, 0, count)
		wg.Add(1)
		_, err := l.Subscribe(ctx, fmt.Sprintf("agent-%d", a), 0, func(_ uint64, ev []byte) {
			t, err := strconv.ParseInt(string(bytes.TrimPrefix(ev, []byte(`{"t":`))), 10, 64)
			if err != nil {
				b.Error(err)
			}
			lat[a] = append(lat[a], time.Since(base)-time.Duration(t))
			if len(lat[a]) == count {
				wg.Done()
			}
		})
		if err != nil {
			b.Fatal(err)
		}
	}

	interval := time.Second / time.Duration(rate)
	b.ResetTimer()
	start := time.Now()
	var producers sync.WaitGroup
	for a := range agents {
		producers.Go(func() {
			agent := fmt.Sprintf("agent-%d", a)
			for i := a; i < n; i += agents {
				// Pace to the target rate: event i is due at start+i*interval.
				time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
				if _, err := l.Append(ctx, agent, stamp()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	producers.Wait()
	delivered := make(chan struct{})
	go func() { wg.Wait(); close(delivered) }()
	select {
	case <-delivered:
	case <-time.After(time.Minute):
		b.Fatal("not every event was delivered")
	}
	elapsed := time.Since(start)
	b.StopTimer()

	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) float64 {
		return float64(all[int(p*float64(len(all)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
}
