package server

// Shared pieces of the server benchmarks (bench_*_test.go): an in-process
// server with generated agents, a control-channel client, process memory
// and CPU readings, and a SIPp launcher tuned for load (no message trace).
// Every name starts with "bench" so that it cannot clash with the other
// _test.go files of the package.
//
// Run them with
//
//	go test -run '^$' -bench '^Benchmark(IdleSessionMemory|EventRelay|Registrar|TrunkCallSetup)$' -benchtime=1x ./server/
//
// SIPp (Debian sip-tester) must be installed. For debugging a run:
// AGENTBAR_BENCH_LOG=1 (server warnings to stderr), AGENTBAR_BENCH_PROFILE=<dir>
// (heap and goroutine profiles of the idle sessions), AGENTBAR_BENCH_KEEP=<dir>
// (keep SIPp's files), AGENTBAR_BENCH_SIPP_ARGS="-trace_msg ..." (more SIPp flags).

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/agentbar/agentbar/proxy/control/wire"
	"github.com/agentbar/agentbar/server/config"
)

// benchHMACKey signs the benchmarks' tokens (at least 32 bytes).
const benchHMACKey = "bench-hmac-key-0123456789abcdef-0123456789"

// benchSIPSecret keys the benchmarks' ephemeral SIP credentials.
const benchSIPSecret = "bench-sip-secret-0123456789abcdef"

// benchQueue is the one queue every generated agent joins.
const benchQueue = "support"

// benchAgentID names the i-th generated agent.
func benchAgentID(i int) string { return fmt.Sprintf("ag%05d", i) }

// benchConfig is the defaults of config.Load with loopback listeners on
// free ports, fixed secrets, the event log in a temporary directory, and
// that many generated agents, all in one queue.
func benchConfig(b *testing.B, agents int) *config.Config {
	b.Helper()
	cfg, err := config.Load("", func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	cfg.Auth.HMACKey = benchHMACKey
	cfg.SIP.Secret = benchSIPSecret
	cfg.Bus.StoreDir = b.TempDir()
	cfg.CallCenter.AgentListen = "127.0.0.1:0"
	cfg.CallCenter.TrunkListen = "127.0.0.1:0"
	cfg.CallCenter.Queues = []config.Queue{{ID: benchQueue, Name: "Support"}}
	cfg.CallCenter.Agents = make([]config.Agent, agents)
	for i := range cfg.CallCenter.Agents {
		id := benchAgentID(i)
		cfg.CallCenter.Agents[i] = config.Agent{ID: id, Name: "Agent " + id, Password: "pw-" + id, Queues: []string{benchQueue}}
	}
	return cfg
}

// benchLogger formats like the production logger (text, info level) but
// writes nowhere, so that the cost of building log lines is counted and
// the cost of a terminal is not.
func benchLogger() *slog.Logger {
	if os.Getenv("AGENTBAR_BENCH_LOG") != "" { // debugging a benchmark
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// benchEnv is a running server: HTTP on loopback, the built-in call
// center, the embedded event log.
type benchEnv struct {
	srv   *Server
	cfg   *config.Config
	http  string // host:port of the HTTP listener
	wsURL string // the control channel, ws://.../v1/agent/ws
}

// benchStartServer starts a server with cfg and stops it at cleanup.
func benchStartServer(b *testing.B, cfg *config.Config) *benchEnv {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	cfg.Listen = ln.Addr().String()
	cfg.PublicURL = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, cfg, benchLogger())
	if err != nil {
		ln.Close()
		cancel()
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx, ln)
	}()
	b.Cleanup(func() {
		cancel()
		<-done
		cctx, ccancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer ccancel()
		s.Close(cctx)
	})
	return &benchEnv{srv: s, cfg: cfg, http: ln.Addr().String(), wsURL: "ws://" + ln.Addr().String() + "/v1/agent/ws"}
}

// token mints a control-channel JWT for agent.
func (e *benchEnv) token(b *testing.B, agent string) string {
	b.Helper()
	tok, _, err := e.srv.issuer.Issue(agent, "")
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// benchBar is the bar's end of one control channel.
type benchBar struct {
	ws    *websocket.Conn
	agent string
	hello *wire.ServerMessage
}

// benchDialBar opens a control channel, authenticates with the first
// message and reads the hello.
func benchDialBar(ctx context.Context, wsURL, agent, token string) (*benchBar, error) {
	ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{wire.Subprotocol}})
	if err != nil {
		return nil, err
	}
	bar := &benchBar{ws: ws, agent: agent}
	if err := bar.send(ctx, wire.ClientMessage{Type: wire.TypeAuth, Token: token}); err != nil {
		ws.CloseNow()
		return nil, err
	}
	m, err := bar.next(ctx)
	if err != nil {
		ws.CloseNow()
		return nil, err
	}
	if m.Type != wire.TypeHello {
		ws.CloseNow()
		return nil, fmt.Errorf("bar %s: got %q, want hello", agent, m.Type)
	}
	bar.hello = m
	return bar, nil
}

func (bar *benchBar) send(ctx context.Context, m wire.ClientMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return bar.ws.Write(ctx, websocket.MessageText, b)
}

func (bar *benchBar) next(ctx context.Context) (*wire.ServerMessage, error) {
	_, data, err := bar.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	var m wire.ServerMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// signIn sends sign_in and reads until both its reply and the first
// sequenced event (the agent's state) have arrived: the agent is signed
// in and its channel is subscribed to its events.
func (bar *benchBar) signIn(ctx context.Context) error {
	if err := bar.send(ctx, wire.ClientMessage{Type: wire.TypeCmd, ID: "signin", Op: wire.OpSignIn}); err != nil {
		return err
	}
	replied, evented := false, false
	for !replied || !evented {
		m, err := bar.next(ctx)
		if err != nil {
			return err
		}
		switch {
		case m.Type == wire.TypeReply && m.ID == "signin":
			if m.OK == nil || !*m.OK {
				return fmt.Errorf("bar %s: sign_in refused: %+v", bar.agent, m.Error)
			}
			replied = true
		case m.Type == wire.TypeEvent && m.Seq > 0:
			evented = true
		}
	}
	return nil
}

// benchMem is a reading of the process's memory.
type benchMem struct {
	heapStack uint64 // runtime HeapInuse + StackInuse
	stack     uint64 // StackInuse alone
	rss       uint64 // resident set size from /proc/self/statm
	gor       int    // goroutines
}

// benchReadMem collects garbage twice, returns freed memory to the OS and
// reads the heap, stacks and RSS.
func benchReadMem() benchMem {
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return benchMem{heapStack: ms.HeapInuse + ms.StackInuse, stack: ms.StackInuse, rss: benchRSS(), gor: runtime.NumGoroutine()}
}

// benchRSS is the process's resident set size in bytes (0 if unknown).
func benchRSS() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// benchCPU is the process's user+system CPU time so far.
func benchCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchPercentile is the p-th percentile (0..100) of sorted values.
func benchPercentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1)*p/100 + 0.5)
	return sorted[min(i, len(sorted)-1)]
}

// benchMS turns a duration into milliseconds for ReportMetric.
func benchMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchFreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment
// ago; with pair, port+2 was free as well (SIPp's RTP echo takes both).
func benchFreeUDPPort(b *testing.B, pair bool) int {
	b.Helper()
	for range 50 {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		ok := true
		if pair {
			c2, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+2)))
			if err != nil {
				ok = false
			} else {
				c2.Close()
			}
		}
		c.Close()
		if ok {
			return port
		}
	}
	b.Fatal("no free UDP port")
	return 0
}

// benchSIPpRun is one finished SIPp load run.
type benchSIPpRun struct {
	stats   []map[string]string // rows of the statistics file, oldest first
	elapsed time.Duration       // wall time of the run
	cpu     time.Duration       // sipp's user+system CPU time
	exit    int                 // sipp's exit status
	dir     string              // where its files are
}

// benchRunSIPp runs sipp on scenario (a file in testdata/) against remote
// until it exits, writing statistics every second (-trace_stat) but no
// message trace, which would cost more than the traffic. args come after
// the defaults and override them. The run is killed after limit.
func benchRunSIPp(b *testing.B, scenario, remote string, limit time.Duration, args ...string) *benchSIPpRun {
	b.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		b.Fatalf("sipp not found (apt-get install -y sip-tester): %v", err)
	}
	src, err := filepath.Abs(filepath.Join("testdata", scenario))
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if keep := os.Getenv("AGENTBAR_BENCH_KEEP"); keep != "" { // debugging: keep sipp's files
		if dir, err = os.MkdirTemp(keep, "sipp-"); err != nil {
			b.Fatal(err)
		}
		b.Logf("sipp files in %s", dir)
	}
	stat := filepath.Join(dir, "stat.csv")
	argv := []string{
		"-sf", src,
		"-i", "127.0.0.1", "-p", strconv.Itoa(benchFreeUDPPort(b, false)), "-bind_local",
		"-nostdin",
		"-mp", strconv.Itoa(benchFreeUDPPort(b, true)),
		"-ci", "127.0.0.1", "-cp", strconv.Itoa(benchFreeUDPPort(b, false)),
		"-trace_stat", "-stf", stat, "-fd", "1",
		"-trace_err", "-error_file", filepath.Join(dir, "errors.log"),
		"-default_behaviors", "all,-pingreply",
	}
	argv = append(argv, args...)
	if extra := os.Getenv("AGENTBAR_BENCH_SIPP_ARGS"); extra != "" { // debugging: e.g. "-m 1 -trace_msg"
		argv = append(argv, strings.Fields(extra)...)
	}
	argv = append(argv, remote)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Dir = dir
	out, err := os.Create(filepath.Join(dir, "sipp.out"))
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	start := time.Now()
	err = cmd.Run()
	run := &benchSIPpRun{elapsed: time.Since(start), dir: dir}
	if ps := cmd.ProcessState; ps != nil {
		run.cpu = ps.UserTime() + ps.SystemTime()
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		run.exit = ee.ExitCode()
	default:
		b.Fatalf("sipp: %v", err)
	}
	if ctx.Err() != nil {
		b.Logf("sipp killed after %v", limit)
	}
	run.stats = benchReadSIPpStats(stat)
	if len(run.stats) == 0 {
		o, _ := os.ReadFile(filepath.Join(dir, "sipp.out"))
		b.Fatalf("sipp (exit %d) wrote no statistics; output:\n%s", run.exit, benchTail(string(o), 4000))
	}
	return run
}

// benchReadSIPpStats reads a SIPp -trace_stat file: ';'-separated, the
// first line names the columns.
func benchReadSIPpStats(path string) []map[string]string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var cols []string
	var rows []map[string]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Split(strings.TrimRight(sc.Text(), ";"), ";")
		if cols == nil {
			cols = fields
			continue
		}
		row := map[string]string{}
		for i, c := range cols {
			if i < len(fields) {
				row[c] = fields[i]
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// count is an integer column of a statistics row.
func (r *benchSIPpRun) count(row map[string]string, col string) float64 {
	v, _ := strconv.ParseFloat(strings.TrimSpace(row[col]), 64)
	return v
}

// at is the elapsed time of a statistics row.
func (r *benchSIPpRun) at(row map[string]string) time.Duration {
	return r.duration(row, "ElapsedTime(C)")
}

// duration is a time column of a statistics row ("HH:MM:SS:uuuuuu").
func (r *benchSIPpRun) duration(row map[string]string, col string) time.Duration {
	p := strings.Split(strings.TrimSpace(row[col]), ":")
	if len(p) < 3 {
		return 0
	}
	n := make([]int64, len(p))
	for i, s := range p {
		n[i], _ = strconv.ParseInt(s, 10, 64)
	}
	d := time.Duration(n[0])*time.Hour + time.Duration(n[1])*time.Minute + time.Duration(n[2])*time.Second
	if len(n) > 3 {
		d += time.Duration(n[3]) * time.Microsecond
	}
	return d
}

// cpuPercent is sipp's CPU over its run, % of one core.
func (r *benchSIPpRun) cpuPercent() float64 {
	return float64(r.cpu) / float64(max(r.elapsed, 1)) * 100
}

// last is the final statistics row.
func (r *benchSIPpRun) last() map[string]string { return r.stats[len(r.stats)-1] }

// steadyRate is the rate of successful calls between the first row at or
// after skip and the last row: the run without its ramp-up. It falls back
// to the whole run when the run was too short.
func (r *benchSIPpRun) steadyRate(skip time.Duration) float64 {
	last := r.last()
	i := slices.IndexFunc(r.stats, func(row map[string]string) bool { return r.at(row) >= skip })
	if i < 0 || i >= len(r.stats)-1 {
		if t := r.at(last); t > 0 {
			return r.count(last, "SuccessfulCall(C)") / t.Seconds()
		}
		return 0
	}
	first := r.stats[i]
	dt := r.at(last) - r.at(first)
	if dt <= 0 {
		return 0
	}
	return (r.count(last, "SuccessfulCall(C)") - r.count(first, "SuccessfulCall(C)")) / dt.Seconds()
}

// errors is the head of sipp's error log, for a failed run.
func (r *benchSIPpRun) errors() string {
	e, _ := os.ReadFile(filepath.Join(r.dir, "errors.log"))
	o, _ := os.ReadFile(filepath.Join(r.dir, "sipp.out"))
	return benchTail(string(e), 3000) + "\n" + benchTail(string(o), 3000)
}

// benchTail is the last max bytes of s.
func benchTail(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return "[...]" + s[len(s)-max:]
}

// benchEnvChild marks a process that runs one benchmark for its parent.
const benchEnvChild = "AGENTBAR_BENCH_CHILD"

// benchChild reports whether this process runs a benchmark for a parent
// (see benchIsolated).
func benchChild() bool { return os.Getenv(benchEnvChild) != "" }

// benchIsolated runs the benchmarks matching pattern (a -test.bench
// pattern, e.g. "^BenchmarkRegistrar$/^sipp$") once, in a fresh process of
// this test binary, and reports their figures and logs on b. These
// benchmarks leave state behind that would skew the next one in the same
// process: a registrar's server transactions live 32 s after their last
// response (RFC 3261 Timer J), tens of thousands of goroutines and
// gigabytes of heap wind down after the session benchmark.
func benchIsolated(b *testing.B, pattern string) {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$", "-test.bench="+pattern, "-test.benchtime=1x")
	cmd.Env = append(os.Environ(), benchEnvChild+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%s: %v\n%s", pattern, err, benchTail(string(out), 8000))
	}
	reported := false
	inBench := false
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "Benchmark"):
			inBench = false
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			for i := 2; i+1 < len(f); i += 2 {
				v, err := strconv.ParseFloat(f[i], 64)
				if err == nil {
					b.ReportMetric(v, f[i+1])
					reported = true
				}
			}
		case strings.HasPrefix(line, "--- BENCH:"):
			inBench = true
		case inBench && strings.HasPrefix(line, "    "):
			line = strings.TrimSpace(line)
			if f, rest, ok := strings.Cut(line, ": "); ok && strings.Contains(f, "_test.go:") {
				line = rest // the child's file:line; ours comes with b.Log
			}
			b.Log(line)
		default:
			inBench = false
		}
	}
	if !reported {
		b.Fatalf("%s reported nothing:\n%s", pattern, benchTail(string(out), 8000))
	}
	b.ReportMetric(0, "ns/op")
}
