package interop

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// SIPp is a running sipp started by StartSIPp.
type SIPp struct {
	// Scenario is the path of the scenario file sipp runs.
	Scenario string
	// Dir holds the scenario copy and every log of this run.
	Dir string
	// OutputLog is sipp's stdout and stderr (statistics screens, fatal
	// errors); MessageLog the trace of every SIP message sent and
	// received; ErrorLog the unexpected messages and failures; ActionLog
	// what <log> actions wrote; ScreenLog the final statistics screen.
	OutputLog, MessageLog, ErrorLog, ActionLog, ScreenLog string

	port     int
	cmd      *exec.Cmd
	exited   chan struct{}
	stopOnce sync.Once
	mu       sync.Mutex
	waitErr  error
	reported atomic.Bool // Wait returned the logs in an error
}

// sippExitMeaning explains sipp's exit statuses.
var sippExitMeaning = map[int]string{
	0:   "all calls succeeded",
	1:   "at least one call failed",
	97:  "exit on internal command",
	99:  "normal exit without calls processed",
	253: "fatal error (scenario or run-time)",
	254: "fatal error binding a socket",
	255: "fatal error",
}

// StartSIPp starts sipp with a scenario from testdata (a file name without
// directory, e.g. "uac_call.xml"; a path with a directory is used as it is)
// on a free UDP port on 127.0.0.1 and returns as soon as sipp has bound it,
// without waiting for the scenario. remote is the host:port sipp sends to
// (for a UAC scenario the Kamailio UDPAddr); it may be "" for a UAS
// scenario. args are appended to the defaults and so override them:
//
//	-sf <scenario> -i 127.0.0.1 -p <port> -bind_local -nostdin -m 1
//	-mp <free port> -ci 127.0.0.1 -cp <free port>
//	-default_behaviors all,-pingreply -timeout 30s -timeout_error
//	-trace_msg -trace_err -trace_logs -trace_screen (files in Dir)
//
// The default behaviours are kept except "pingreply", so an unexpected
// message aborts the call (and fails the run) and an aborted call is
// cleaned up with BYE or CANCEL, but no unexpected request is answered
// silently. sipp is killed on cleanup if still running; if the test failed,
// its output and logs go to t.Log.
func StartSIPp(t testing.TB, scenario string, remote string, args ...string) *SIPp {
	t.Helper()
	bin := lookBinary(t, "sipp")
	dir := t.TempDir()
	name := filepath.Base(scenario)

	var path string
	if name != scenario {
		path = scenario
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("interop: SIPp scenario: %v", err)
		}
	} else {
		b, err := testdata.ReadFile("testdata/" + name)
		if errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("interop: no SIPp scenario %q in testdata; have %s", name, strings.Join(Scenarios(), ", "))
		} else if err != nil {
			t.Fatalf("interop: %v", err)
		}
		path = filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatalf("interop: %v", err)
		}
	}
	base := strings.TrimSuffix(name, filepath.Ext(name))

	const attempts = 3
	for attempt := 1; ; attempt++ {
		s := &SIPp{
			Scenario:   path,
			Dir:        dir,
			OutputLog:  filepath.Join(dir, fmt.Sprintf("%s-%d.out", base, attempt)),
			MessageLog: filepath.Join(dir, fmt.Sprintf("%s-%d.messages.log", base, attempt)),
			ErrorLog:   filepath.Join(dir, fmt.Sprintf("%s-%d.errors.log", base, attempt)),
			ActionLog:  filepath.Join(dir, fmt.Sprintf("%s-%d.actions.log", base, attempt)),
			ScreenLog:  filepath.Join(dir, fmt.Sprintf("%s-%d.screen.log", base, attempt)),
			exited:     make(chan struct{}),
		}
		s.port = freeUDPPort(t, 0)
		mediaPort := freeUDPPort(t, 1) // sipp binds the RTP echo port and port+2
		ctlPort := freeUDPPort(t, 0)

		argv := []string{
			"-sf", path,
			"-i", "127.0.0.1", "-p", strconv.Itoa(s.port), "-bind_local",
			"-nostdin",
			"-m", "1",
			"-mp", strconv.Itoa(mediaPort),
			"-ci", "127.0.0.1", "-cp", strconv.Itoa(ctlPort),
			"-default_behaviors", "all,-pingreply",
			"-timeout", "30s", "-timeout_error",
			"-trace_msg", "-message_file", s.MessageLog,
			"-trace_err", "-error_file", s.ErrorLog,
			"-trace_logs", "-log_file", s.ActionLog,
			"-trace_screen", "-screen_file", s.ScreenLog,
		}
		argv = append(argv, args...)
		if remote != "" {
			argv = append(argv, remote)
		}

		out, err := os.Create(s.OutputLog)
		if err != nil {
			t.Fatalf("interop: %v", err)
		}
		s.cmd = exec.Command(bin, argv...)
		s.cmd.Dir = dir
		s.cmd.Stdout = out
		s.cmd.Stderr = out
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := s.cmd.Start(); err != nil {
			out.Close()
			t.Fatalf("interop: start %s: %v", bin, err)
		}
		go func() {
			err := s.cmd.Wait()
			out.Close()
			s.mu.Lock()
			s.waitErr = err
			s.mu.Unlock()
			close(s.exited)
		}()
		t.Cleanup(func() {
			s.stop()
			if t.Failed() {
				if s.reported.Load() {
					t.Logf("interop: sipp %s: logs as in the error above, files in %s", filepath.Base(s.Scenario), s.Dir)
				} else {
					t.Logf("interop: %s", s.report(64<<10))
				}
			}
		})

		// wait until sipp has bound its SIP port, or has exited
		bound := false
		deadline := time.Now().Add(10 * time.Second)
		for !bound && time.Now().Before(deadline) {
			if udpBound(s.port) {
				bound = true
				break
			}
			select {
			case <-s.exited:
				deadline = time.Time{}
			case <-time.After(5 * time.Millisecond):
			}
		}
		if bound {
			return s
		}
		if code := s.exitCode(); code == 254 && attempt < attempts {
			t.Logf("interop: sipp could not bind its ports (attempt %d), retrying", attempt)
			continue
		}
		// let Wait report what happened
		return s
	}
}

// Addr returns sipp's local SIP address, 127.0.0.1:PORT (UDP).
func (s *SIPp) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URI returns sip:user@127.0.0.1:PORT, a request URI that Kamailio relays
// straight to this sipp.
func (s *SIPp) URI(user string) string { return "sip:" + user + "@" + s.Addr() }

// Wait waits for sipp to exit. A non-zero exit status gives an error with
// the tail of sipp's error log, message trace and output. If ctx ends first,
// sipp is killed and the error says so, with the same logs.
func (s *SIPp) Wait(ctx context.Context) error {
	select {
	case <-s.exited:
	case <-ctx.Done():
		s.stop()
		s.reported.Store(true)
		return fmt.Errorf("sipp %s: %w before it finished\n%s", filepath.Base(s.Scenario), ctx.Err(), s.report(8<<10))
	}
	code := s.exitCode()
	if code == 0 {
		return nil
	}
	meaning := sippExitMeaning[code]
	if meaning == "" {
		s.mu.Lock()
		meaning = fmt.Sprint(s.waitErr)
		s.mu.Unlock()
	}
	s.reported.Store(true)
	return fmt.Errorf("sipp %s exited with status %d (%s)\n%s", filepath.Base(s.Scenario), code, meaning, s.report(8<<10))
}

// Done is closed when sipp has exited.
func (s *SIPp) Done() <-chan struct{} { return s.exited }

func (s *SIPp) exitCode() int {
	<-s.exited
	return s.cmd.ProcessState.ExitCode()
}

func (s *SIPp) stop() {
	s.stopOnce.Do(func() { killGroup(s.cmd.Process.Pid, s.exited, 2*time.Second) })
}

// report gathers the tails of sipp's logs.
func (s *SIPp) report(max int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "sipp %s (%s) logs in %s\n", filepath.Base(s.Scenario), s.Addr(), s.Dir)
	for _, f := range []struct{ title, path string }{
		{"error log", s.ErrorLog},
		{"message trace", s.MessageLog},
		{"action log", s.ActionLog},
		{"output", s.OutputLog},
	} {
		text := strings.TrimSpace(readFile(f.path))
		if text == "" || strings.HasPrefix(text, "(") && strings.Contains(text, "no such file") {
			continue
		}
		if f.title == "output" {
			text = lastScreen(text)
		}
		fmt.Fprintf(&b, "--- %s %s:\n%s\n", f.title, filepath.Base(f.path), tail(text, max))
	}
	return b.String()
}

// lastScreen drops all but the last statistics screen from sipp's output.
func lastScreen(out string) string {
	const mark = "------------------------------ Scenario Screen"
	if i := strings.LastIndex(out, mark); i > 0 {
		head := out[:strings.Index(out, mark)]
		return strings.TrimSpace(head) + "\n[...]\n" + out[i:]
	}
	return out
}
