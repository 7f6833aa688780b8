// Package metrics keeps the server's counters, gauges and histograms and
// writes them in the Prometheus text exposition format (version 0.0.4).
package metrics

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
)

// Registry holds named series. Its methods are safe for concurrent use.
type Registry struct {
	mu       sync.Mutex
	counters map[string]map[string]float64 // name -> label set -> value
	gauges   map[string]func() float64
	cfuncs   map[string]func() float64 // counters read at scrape time
	hists    map[string]*histogram
	help     map[string]string
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{
		counters: map[string]map[string]float64{},
		gauges:   map[string]func() float64{},
		cfuncs:   map[string]func() float64{},
		hists:    map[string]*histogram{},
		help:     map[string]string{},
	}
}

// Help sets the HELP text of a metric.
func (r *Registry) Help(name, text string) {
	r.mu.Lock()
	r.help[name] = text
	r.mu.Unlock()
}

// Add adds v to the counter name with the given label pairs (k1, v1, k2, v2...).
func (r *Registry) Add(name string, v float64, labels ...string) {
	key := labelString(labels)
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.counters[name]
	if m == nil {
		m = map[string]float64{}
		r.counters[name] = m
	}
	m[key] += v
}

// Gauge registers a gauge read at scrape time.
func (r *Registry) Gauge(name string, fn func() float64) {
	r.mu.Lock()
	r.gauges[name] = fn
	r.mu.Unlock()
}

// CounterFunc registers a counter kept elsewhere and read at scrape time.
func (r *Registry) CounterFunc(name string, fn func() float64) {
	r.mu.Lock()
	r.cfuncs[name] = fn
	r.mu.Unlock()
}

// Observe records a duration in the histogram name (seconds, fixed buckets
// from 0.5 ms to 10 s).
func (r *Registry) Observe(name string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.hists[name]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(buckets))}
		r.hists[name] = h
	}
	s := d.Seconds()
	for i, b := range buckets {
		if s <= b {
			h.counts[i]++
		}
	}
	h.count++
	h.sum += s
}

var buckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10}

type histogram struct {
	counts []uint64 // cumulative per bucket
	count  uint64
	sum    float64
}

// WriteTo writes every series in the text exposition format.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	head := func(name, typ string) {
		if h := r.help[name]; h != "" {
			fmt.Fprintf(&b, "# HELP %s %s\n", name, h)
		}
		fmt.Fprintf(&b, "# TYPE %s %s\n", name, typ)
	}
	for _, name := range sortedKeys(r.counters) {
		head(name, "counter")
		for _, k := range sortedKeys(r.counters[name]) {
			fmt.Fprintf(&b, "%s%s %s\n", name, k, num(r.counters[name][k]))
		}
	}
	for _, name := range sortedKeys(r.cfuncs) {
		head(name, "counter")
		fmt.Fprintf(&b, "%s %s\n", name, num(r.cfuncs[name]()))
	}
	for _, name := range sortedKeys(r.gauges) {
		head(name, "gauge")
		fmt.Fprintf(&b, "%s %s\n", name, num(r.gauges[name]()))
	}
	for _, name := range sortedKeys(r.hists) {
		h := r.hists[name]
		head(name, "histogram")
		for i, le := range buckets {
			fmt.Fprintf(&b, "%s_bucket{le=\"%s\"} %d\n", name, num(le), h.counts[i])
		}
		fmt.Fprintf(&b, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %s\n%s_count %d\n", name, h.count, name, num(h.sum), name, h.count)
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func num(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return fmt.Sprint(v)
}

// labelString renders label pairs as {k="v",...}, escaping values.
func labelString(kv []string) string {
	if len(kv) < 2 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		v := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(kv[i+1])
		fmt.Fprintf(&b, "%s=\"%s\"", kv[i], v)
	}
	b.WriteByte('}')
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
