package server

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentbar/agentbar/proxy/auth"
)

// benchSessions is how many idle agent sessions BenchmarkIdleSessionMemory opens.
const benchSessions = 10_000

// Environment of the client process of BenchmarkIdleSessionMemory.
const (
	benchEnvClientURL = "AGENTBAR_BENCH_SESSION_CLIENT_URL" // set: this process is the clients
	benchEnvClientN   = "AGENTBAR_BENCH_SESSION_CLIENT_N"
)

// BenchmarkIdleSessionMemory measures the server's resident memory per
// idle agent session: an agent signed in, with its control WebSocket open,
// authenticated, hello received and subscribed to its events (its first
// event, the state after sign-in, has arrived).
//
// The bars run in a child process (this test binary again, in client
// mode), so that the server process holds only the server's side of the
// sessions and the readings need no estimate of the clients' share; this
// also keeps each process under the file-descriptor limit (10,000 sockets
// each). The server's cost is the difference, after garbage collection,
// between readings before the first session and with all sessions idle:
//
//	server-KB/session        HeapInuse+StackInuse delta / sessions
//	server-stack-KB/session  the goroutine stacks' part of it
//	server-rss-KB/session    RSS delta (/proc/self/statm) / sessions
//	goroutines/session       extra server goroutines per session
//	client-KB/session        the same heap+stack delta in the client process
//	client-rss-KB/session    and its RSS delta
//	sessions/s               how fast the sessions were opened (64 at a time)
//	idle-cpu-%               the server process's CPU while the sessions
//	                         idle (percent of one core, over 5 s)
//
// The server side, too, runs in a process of its own (benchIsolated).
// Run once: -benchtime=1x.
func BenchmarkIdleSessionMemory(b *testing.B) {
	if url := os.Getenv(benchEnvClientURL); url != "" {
		benchSessionClients(b, url)
		return
	}
	if !benchChild() {
		benchIsolated(b, "^BenchmarkIdleSessionMemory$")
		return
	}
	cfg := benchConfig(b, benchSessions)
	env := benchStartServer(b, cfg)
	before := benchReadMem()

	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$", "-test.bench=^BenchmarkIdleSessionMemory$", "-test.benchtime=1x")
	cmd.Env = append(os.Environ(),
		benchEnvClientURL+"="+env.wsURL,
		benchEnvClientN+"="+strconv.Itoa(benchSessions),
	)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stdin.Close() // the clients exit when their stdin closes
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()

	// The child prints one line when every session is up.
	var ready string
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(90 * time.Second)
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				b.Fatal("the client process ended before its sessions were up")
			}
			if strings.HasPrefix(l, "BENCH-CLIENTS ") {
				ready = l
				break wait
			}
			if strings.HasPrefix(l, "BENCH-CLIENT-FAIL ") {
				b.Fatal(l)
			}
		case <-deadline:
			b.Fatal("the sessions did not come up within 90 s")
		}
	}
	go func() {
		for range lines { // keep the pipe drained
		}
	}()
	setup := time.Since(start)
	var n int
	var clientHeap, clientRSS, clientGor float64
	if _, err := fmt.Sscanf(ready, "BENCH-CLIENTS %d %g %g %g", &n, &clientHeap, &clientRSS, &clientGor); err != nil {
		b.Fatalf("client report %q: %v", ready, err)
	}
	if got := env.srv.hub.Sessions(); got != benchSessions {
		b.Fatalf("%d sessions signed in, want %d", got, benchSessions)
	}
	time.Sleep(3 * time.Second) // let the sessions go idle (pull requests, timers)
	cpu0, t0 := benchCPU(), time.Now()
	time.Sleep(5 * time.Second)
	idleCPU := float64(benchCPU()-cpu0) / float64(time.Since(t0)) * 100
	after := benchReadMem()
	benchProfiles(b, "sessions")

	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / benchSessions / 1024 }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(per(after.heapStack, before.heapStack), "server-KB/session")
	b.ReportMetric(per(after.stack, before.stack), "server-stack-KB/session")
	b.ReportMetric(per(after.rss, before.rss), "server-rss-KB/session")
	b.ReportMetric(float64(after.gor-before.gor)/benchSessions, "goroutines/session")
	b.ReportMetric(clientHeap/1024, "client-KB/session")
	b.ReportMetric(clientRSS/1024, "client-rss-KB/session")
	b.ReportMetric(float64(benchSessions)/setup.Seconds(), "sessions/s")
	b.ReportMetric(idleCPU, "idle-cpu-%")
	b.Logf("server: heap+stack %d -> %d MiB, RSS %d -> %d MiB, goroutines %d -> %d; clients %.1f goroutines/session; setup %v",
		before.heapStack>>20, after.heapStack>>20, before.rss>>20, after.rss>>20, before.gor, after.gor, clientGor, setup.Round(time.Millisecond))
}

// benchSessionClients is the client process: it opens the sessions, reports
// its own memory per session on stdout, and holds them until stdin closes.
func benchSessionClients(b *testing.B, url string) {
	n, _ := strconv.Atoi(os.Getenv(benchEnvClientN))
	iss, err := auth.NewIssuer([]byte(benchHMACKey), "agentbar", "agentbar", 2*time.Hour, time.Now)
	if err != nil {
		fmt.Println("BENCH-CLIENT-FAIL", err)
		return
	}
	before := benchReadMem()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bars := make([]*benchBar, n)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || failed.Load() != nil {
					return
				}
				agent := benchAgentID(i)
				tok, _, err := iss.Issue(agent, "")
				if err == nil {
					var bar *benchBar
					dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
					if bar, err = benchDialBar(dctx, url, agent, tok); err == nil {
						err = bar.signIn(dctx)
						bars[i] = bar
					}
					dcancel()
				}
				if err != nil {
					failed.CompareAndSwap(nil, fmt.Errorf("session %d: %w", i, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		fmt.Println("BENCH-CLIENT-FAIL", err)
		return
	}
	// An idle bar keeps one read pending, as a browser does.
	for _, bar := range bars {
		go func() {
			for {
				if _, _, err := bar.ws.Read(ctx); err != nil {
					return
				}
			}
		}()
	}
	time.Sleep(time.Second)
	after := benchReadMem()
	fmt.Printf("BENCH-CLIENTS %d %g %g %g\n", n,
		(float64(after.heapStack)-float64(before.heapStack))/float64(n),
		(float64(after.rss)-float64(before.rss))/float64(n),
		float64(after.gor-before.gor)/float64(n))
	os.Stdout.Sync()
	buf := make([]byte, 1)
	os.Stdin.Read(buf) // EOF when the server side is done
	for _, bar := range bars {
		bar.ws.CloseNow()
	}
}

// benchProfiles writes heap and goroutine profiles into the directory named
// by AGENTBAR_BENCH_PROFILE, if set, for finding where the memory goes.
func benchProfiles(b *testing.B, name string) {
	dir := os.Getenv("AGENTBAR_BENCH_PROFILE")
	if dir == "" {
		return
	}
	for _, p := range []string{"heap", "goroutine"} {
		f, err := os.Create(filepath.Join(dir, name+"-"+p+".pprof"))
		if err != nil {
			b.Fatal(err)
		}
		pprof.Lookup(p).WriteTo(f, 0)
		f.Close()
	}
}
