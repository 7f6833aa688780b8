package eventlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// waitTimeout bounds every wait for an expected delivery.
const waitTimeout = 15 * time.Second

// testLogger sends warnings and errors to the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// startExternal runs a standalone nats-server with JetStream on a random
// local TCP port for the duration of the test and returns its URL.
func startExternal(t testing.TB) string {
	t.Helper()
	ns, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("external nats-server did not start")
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns.ClientURL()
}

// open opens a Log that is closed when the test ends.
func open(t testing.TB, cfg Config) *Log {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	l, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

// mode is a deployment: cfg returns a Config for it.
type mode struct {
	name string
	cfg  func(t testing.TB) Config
}

// modes returns the two deployments; behavioural tests run in both.
func modes() []mode {
	return []mode{
		{"embedded", func(t testing.TB) Config { return Config{StoreDir: t.TempDir()} }},
		{"external", func(t testing.TB) Config { return Config{URL: startExternal(t)} }},
	}
}

// item is one delivery seen by a subscriber.
type item struct {
	seq   uint64
	event string
}

// subscribe starts a subscription whose deliveries go to the returned
// channel.
func subscribe(t testing.TB, l *Log, agent string, after uint64) (<-chan item, func()) {
	t.Helper()
	ch := make(chan item, 4096)
	stop, err := l.Subscribe(t.Context(), agent, after, func(seq uint64, event []byte) {
		ch <- item{seq, string(event)}
	})
	if err != nil {
		t.Fatalf("Subscribe(%s, %d): %v", agent, after, err)
	}
	t.Cleanup(stop)
	return ch, stop
}

// receive reads n deliveries or fails the test.
func receive(t testing.TB, ch <-chan item, n int) []item {
	t.Helper()
	out := make([]item, 0, n)
	timeout := time.After(waitTimeout)
	for len(out) < n {
		select {
		case it := <-ch:
			out = append(out, it)
		case <-timeout:
			t.Fatalf("received %d of %d events", len(out), n)
		}
	}
	return out
}

// appendN appends n events for agent and returns them by sequence number.
func appendN(t testing.TB, l *Log, agent string, n int, tag string) map[uint64]string {
	t.Helper()
	m := make(map[uint64]string, n)
	for i := range n {
		ev := fmt.Sprintf(`{"agent":%q,"tag":%q,"i":%d}`, agent, tag, i)
		seq, err := l.Append(t.Context(), agent, []byte(ev))
		if err != nil {
			t.Fatalf("Append(%s) #%d: %v", agent, i, err)
		}
		m[seq] = ev
	}
	return m
}

// checkRun asserts that got is exactly the events numbered from..from+len-1,
// in order, with the payloads in want.
func checkRun(t testing.TB, got []item, from uint64, want map[uint64]string) {
	t.Helper()
	for i, it := range got {
		if it.seq != from+uint64(i) {
			t.Fatalf("delivery %d: seq %d, want %d", i, it.seq, from+uint64(i))
		}
		if w, ok := want[it.seq]; !ok || it.event != w {
			t.Fatalf("seq %d: event %q, want %q", it.seq, it.event, w)
		}
	}
}

// expectNext appends a sentinel event and asserts that it is the very next
// delivery: anything queued before it (a repeat, a stray) fails the test.
func expectNext(t testing.TB, l *Log, ch <-chan item, agent string, seq uint64) {
	t.Helper()
	got, err := l.Append(t.Context(), agent, []byte(`"sentinel"`))
	if err != nil {
		t.Fatal(err)
	}
	if got != seq {
		t.Fatalf("sentinel got seq %d, want %d", got, seq)
	}
	it := receive(t, ch, 1)[0]
	if it.seq != seq || it.event != `"sentinel"` {
		t.Fatalf("next delivery is %d %q, want the sentinel %d", it.seq, it.event, seq)
	}
}

func TestAppendSubscribeOrder(t *testing.T) {
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			l := open(t, m.cfg(t))
			want := appendN(t, l, "alice", 50, "stored")
			for seq := uint64(1); seq <= 50; seq++ {
				if _, ok := want[seq]; !ok {
					t.Fatalf("numbers not dense: %d missing", seq)
				}
			}
			if n, err := l.LastSeq(t.Context(), "alice"); err != nil || n != 50 {
				t.Fatalf("LastSeq = %d, %v; want 50", n, err)
			}
			ch, _ := subscribe(t, l, "alice", 0)
			checkRun(t, receive(t, ch, 50), 1, want)

			live := appendN(t, l, "alice", 10, "live")
			checkRun(t, receive(t, ch, 10), 51, live)
			expectNext(t, l, ch, "alice", 61)
		})
	}
}

func TestResumeDuringConcurrentAppends(t *testing.T) {
	const (
		stored  = 100
		writers = 4
		each    = 50
		after   = 37
		total   = stored + writers*each
	)
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			l := open(t, m.cfg(t))
			want := make(map[uint64]string)
			// Another agent's events interleave in the stream.
			for i := range stored {
				for seq, ev := range appendN(t, l, "bob", 1, fmt.Sprint("stored", i)) {
					want[seq] = ev
				}
				appendN(t, l, "carol", 1+i%3, "noise")
			}

			var mu sync.Mutex
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						ev := fmt.Sprintf(`{"w":%d,"i":%d}`, w, i)
						seq, err := l.Append(t.Context(), "bob", []byte(ev))
						if err != nil {
							t.Errorf("Append: %v", err)
							return
						}
						mu.Lock()
						want[seq] = ev
						mu.Unlock()
					}
				})
			}
			ch, _ := subscribe(t, l, "bob", after)
			got := receive(t, ch, total-after)
			wg.Wait()
			if t.Failed() {
				return
			}
			if len(want) != total {
				t.Fatalf("%d distinct numbers for %d appends", len(want), total)
			}
			checkRun(t, got, after+1, want)
			expectNext(t, l, ch, "bob", total+1)
		})
	}
}

func TestConcurrentAppendsDense(t *testing.T) {
	const writers, each = 8, 40
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			l := open(t, m.cfg(t))
			seqs := make(chan uint64, writers*each)
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for range each {
						seq, err := l.Append(t.Context(), "dave", []byte(`{}`))
						if err != nil {
							t.Errorf("Append: %v", err)
							return
						}
						seqs <- seq
					}
				})
			}
			wg.Wait()
			close(seqs)
			seen := make(map[uint64]bool)
			for s := range seqs {
				if seen[s] {
					t.Fatalf("seq %d returned twice", s)
				}
				seen[s] = true
			}
			for s := uint64(1); s <= writers*each; s++ {
				if !seen[s] {
					t.Fatalf("seq %d never returned", s)
				}
			}
		})
	}
}

// TestTwoInstances has two Logs share one external NATS, as two proxy
// instances would, and append to the same agent at once.
func TestTwoInstances(t *testing.T) {
	const each = 60
	url := startExternal(t)
	a := open(t, Config{URL: url})
	b := open(t, Config{URL: url})

	ch, _ := subscribe(t, b, "erin", 0)
	var mu sync.Mutex
	want := make(map[uint64]string)
	var wg sync.WaitGroup
	for name, l := range map[string]*Log{"a": a, "b": b} {
		for w := range 2 {
			wg.Go(func() {
				for i := range each {
					ev := fmt.Sprintf(`{"inst":%q,"w":%d,"i":%d}`, name, w, i)
					seq, err := l.Append(t.Context(), "erin", []byte(ev))
					if err != nil {
						t.Errorf("Append via %s: %v", name, err)
						return
					}
					mu.Lock()
					if _, dup := want[seq]; dup {
						t.Errorf("seq %d given twice", seq)
					}
					want[seq] = ev
					mu.Unlock()
				}
			})
		}
	}
	got := receive(t, ch, 4*each)
	wg.Wait()
	if t.Failed() {
		return
	}
	checkRun(t, got, 1, want)
	expectNext(t, a, ch, "erin", 4*each+1)
}

func TestAgentsIsolated(t *testing.T) {
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			l := open(t, m.cfg(t))
			chA, _ := subscribe(t, l, "agent-a", 0)
			chB, _ := subscribe(t, l, "agent-b", 0)
			wantA := make(map[uint64]string)
			wantB := make(map[uint64]string)
			for i := range 20 {
				for s, e := range appendN(t, l, "agent-a", 1, fmt.Sprint(i)) {
					wantA[s] = e
				}
				if i%2 == 0 {
					for s, e := range appendN(t, l, "agent-b", 1, fmt.Sprint(i)) {
						wantB[s] = e
					}
				}
			}
			checkRun(t, receive(t, chA, 20), 1, wantA)
			checkRun(t, receive(t, chB, 10), 1, wantB)
			expectNext(t, l, chB, "agent-b", 11)
			expectNext(t, l, chA, "agent-a", 21)
			// agent-a is a prefix of no other id, but check the reverse too.
			if n, _ := l.LastSeq(t.Context(), "agent"); n != 0 {
				t.Fatalf("LastSeq(agent) = %d, want 0", n)
			}
		})
	}
}

func TestInvalidAgent(t *testing.T) {
	l := open(t, Config{StoreDir: t.TempDir()})
	bad := []string{
		"", "a.b", "a*", ">", "a>", "*", "a b", "a\tb", "a/b", "a\x00b", "agent\n",
		"ä", "a:b", "$JS", strings.Repeat("x", 65),
	}
	for _, agent := range bad {
		t.Run(fmt.Sprintf("%q", agent), func(t *testing.T) {
			if _, err := l.Append(t.Context(), agent, []byte(`{}`)); !errors.Is(err, ErrInvalidAgent) {
				t.Errorf("Append: %v, want ErrInvalidAgent", err)
			}
			if _, err := l.LastSeq(t.Context(), agent); !errors.Is(err, ErrInvalidAgent) {
				t.Errorf("LastSeq: %v, want ErrInvalidAgent", err)
			}
			stop, err := l.Subscribe(t.Context(), agent, 0, func(uint64, []byte) {})
			if !errors.Is(err, ErrInvalidAgent) || stop != nil {
				t.Errorf("Subscribe: %v, want ErrInvalidAgent", err)
			}
		})
	}
	for _, agent := range []string{"a", "Agent_01-x", strings.Repeat("z", 64)} {
		if _, err := l.Append(t.Context(), agent, []byte(`{}`)); err != nil {
			t.Errorf("Append(%q): %v", agent, err)
		}
	}
}

func TestRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	cfg := Config{StoreDir: dir, Logger: testLogger(t)}

	l, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := appendN(t, l, "frank", 5, "before")
	appendN(t, l, "grace", 3, "before")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	l = open(t, cfg)
	for agent, n := range map[string]uint64{"frank": 5, "grace": 3, "nobody": 0} {
		if got, err := l.LastSeq(ctx, agent); err != nil || got != n {
			t.Fatalf("LastSeq(%s) after restart = %d, %v; want %d", agent, got, err, n)
		}
	}
	for s, e := range appendN(t, l, "frank", 1, "after") {
		if s != 6 {
			t.Fatalf("first append after restart got %d, want 6", s)
		}
		want[s] = e
	}
	ch, _ := subscribe(t, l, "frank", 0)
	checkRun(t, receive(t, ch, 6), 1, want)
	expectNext(t, l, ch, "frank", 7)
}

// TestCounterOutlivesRetention lets every event of an agent age out and
// checks that numbering continues instead of starting over.
func TestCounterOutlivesRetention(t *testing.T) {
	cfg := Config{StoreDir: t.TempDir(), MaxAge: 500 * time.Millisecond, Logger: testLogger(t)}
	l, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, "heidi", 3, "old")
	// Expiry is driven by the clock; poll for it.
	deadline := time.Now().Add(waitTimeout)
	for {
		_, err := l.events.GetLastMsgForSubject(t.Context(), eventSubjectPrefix+"heidi")
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events did not age out: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = open(t, cfg)
	if n, err := l.LastSeq(t.Context(), "heidi"); err != nil || n != 3 {
		t.Fatalf("LastSeq = %d, %v; want 3", n, err)
	}
	ch, _ := subscribe(t, l, "heidi", 1)
	want := appendN(t, l, "heidi", 1, "new")
	checkRun(t, receive(t, ch, 1), 4, want)
}

// TestStartSeq checks the resume-point search against every possible
// resume point of an agent whose events interleave with others'.
func TestStartSeq(t *testing.T) {
	l := open(t, Config{StoreDir: t.TempDir()})
	const n = 60
	for i := range n {
		appendN(t, l, "ivan", 1, "x")
		appendN(t, l, "judy", i%4, "noise")
		if i%7 == 0 {
			appendN(t, l, "ken", 9, "noise")
		}
	}
	subj := eventSubjectPrefix + "ivan"
	for after := uint64(0); after <= n+1; after++ {
		start, err := l.startSeq(t.Context(), subj, after)
		if err != nil {
			t.Fatalf("startSeq(%d): %v", after, err)
		}
		if after == 0 {
			if start != 0 {
				t.Fatalf("startSeq(0) = %d, want 0", start)
			}
			continue
		}
		m, err := l.events.GetMsg(t.Context(), start, jetstream.WithGetMsgSubject(subj))
		if after >= n {
			if !errors.Is(err, jetstream.ErrMsgNotFound) {
				t.Fatalf("startSeq(%d) = %d: want past the end, found %v", after, start, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("startSeq(%d) = %d: %v", after, start, err)
		}
		if m.Sequence != start {
			t.Fatalf("startSeq(%d) = %d, which is not an event of ivan", after, start)
		}
		if got, _ := parseSeq(m.Header); got != after+1 {
			t.Fatalf("startSeq(%d) points at event %d", after, got)
		}
	}
}

func TestSubscribeStop(t *testing.T) {
	l := open(t, Config{StoreDir: t.TempDir()})
	var (
		mu    sync.Mutex
		calls int
	)
	first := make(chan struct{})
	stop, err := l.Subscribe(t.Context(), "leo", 0, func(uint64, []byte) {
		mu.Lock()
		calls++
		if calls == 1 {
			close(first)
		}
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, "leo", 1, "a")
	select {
	case <-first:
	case <-time.After(waitTimeout):
		t.Fatal("first event not delivered")
	}
	stop()
	stop() // idempotent
	watch, _ := subscribe(t, l, "leo", 1)
	appendN(t, l, "leo", 3, "b")
	receive(t, watch, 3) // the watcher has them; the stopped one must not
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Fatalf("fn called %d times, want 1 (none after stop)", calls)
	}
}

func TestSubscribeContextEnds(t *testing.T) {
	l := open(t, Config{StoreDir: t.TempDir()})
	ctx, cancel := context.WithCancel(t.Context())
	stop, err := l.Subscribe(ctx, "mia", 0, func(uint64, []byte) {})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	done := make(chan struct{})
	go func() { stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("subscription did not end with its context")
	}
	l.mu.Lock()
	n := len(l.live)
	l.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d subscriptions still registered", n)
	}
}

func TestSubscribeAfterNewest(t *testing.T) {
	l := open(t, Config{StoreDir: t.TempDir()})
	appendN(t, l, "nora", 5, "old")
	ch, _ := subscribe(t, l, "nora", 5)
	expectNext(t, l, ch, "nora", 6)
	// A subscriber ahead of the log (say, a bar from a wiped dev store)
	// gets nothing until the numbers pass it.
	ahead, _ := subscribe(t, l, "nora", 7)
	appendN(t, l, "nora", 1, "seven")
	expectNext(t, l, ahead, "nora", 8)
}

func TestClose(t *testing.T) {
	l, err := Open(t.Context(), Config{StoreDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Ready(); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	ch := make(chan struct{})
	if _, err := l.Subscribe(t.Context(), "olga", 0, func(uint64, []byte) {}); err != nil {
		t.Fatal(err)
	}
	go func() { _ = l.Close(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatal("Close hung with a live subscription")
	}
	if err := l.Ready(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ready after Close: %v", err)
	}
	if _, err := l.Append(t.Context(), "olga", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if _, err := l.Subscribe(t.Context(), "olga", 0, func(uint64, []byte) {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
	if _, err := l.LastSeq(t.Context(), "olga"); !errors.Is(err, ErrClosed) {
		t.Fatalf("LastSeq after Close: %v", err)
	}
}

func TestOpenConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no store dir", Config{}},
		{"bad stream", Config{StoreDir: t.TempDir(), Stream: "a.b"}},
		{"negative age", Config{StoreDir: t.TempDir(), MaxAge: -time.Second}},
		{"replicas embedded", Config{StoreDir: t.TempDir(), Replicas: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Open(t.Context(), tt.cfg)
			if !errors.Is(err, ErrConfig) {
				if l != nil {
					_ = l.Close()
				}
				t.Fatalf("Open: %v, want ErrConfig", err)
			}
		})
	}
}

// TestLostLiveEventsRecovered: live copies that never arrive (a slow
// consumer, a reconnect) are read from the store when the next one shows
// the gap, or on a resync, so the subscriber still gets every event once
// and in order.
func TestLostLiveEventsRecovered(t *testing.T) {
	l := open(t, Config{StoreDir: t.TempDir()})
	ch, _ := subscribe(t, l, "olga", 0)
	want := appendN(t, l, "olga", 2, "a")
	receive(t, ch, 2)

	// Take the subscription off the fan-out while two events are stored:
	// their live copies are lost to it.
	l.mu.Lock()
	subs := l.live["olga"]
	delete(l.live, "olga")
	l.mu.Unlock()
	maps.Copy(want, appendN(t, l, "olga", 2, "lost"))
	l.mu.Lock()
	l.live["olga"] = subs
	l.mu.Unlock()
	maps.Copy(want, appendN(t, l, "olga", 1, "gap"))
	got := receive(t, ch, 3)
	for i, it := range got {
		if it.seq != uint64(3+i) || it.event != want[it.seq] {
			t.Fatalf("delivery %d is %d %q, want %d %q", i, it.seq, it.event, 3+i, want[uint64(3+i)])
		}
	}

	// The newest event lost with nothing after it: a resync finds it.
	l.mu.Lock()
	delete(l.live, "olga")
	l.mu.Unlock()
	last := appendN(t, l, "olga", 1, "tail")
	l.mu.Lock()
	l.live["olga"] = subs
	l.mu.Unlock()
	l.resyncAll()
	if it := receive(t, ch, 1)[0]; it.seq != 6 || it.event != last[6] {
		t.Fatalf("after the resync: %d %q, want 6 %q", it.seq, it.event, last[6])
	}
	expectNext(t, l, ch, "olga", 7)
	select {
	case it := <-ch:
		t.Fatalf("extra delivery %d %q", it.seq, it.event)
	default:
	}
}

// TestNoConsumers: subscribers share the Log's one live subscription; the
// stream holds no consumer per subscriber.
func TestNoConsumers(t *testing.T) {
	l := open(t, Config{StoreDir: t.TempDir()})
	for i := range 5 {
		subscribe(t, l, fmt.Sprintf("p%d", i), 0)
	}
	info, err := l.events.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 0 {
		t.Fatalf("%d consumers on the stream, want 0", info.State.Consumers)
	}
}
