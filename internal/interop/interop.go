// Package interop starts real third-party SIP peers on loopback for interop
// tests: Kamailio as a SIP-over-WebSocket (RFC 7118) registrar and proxy,
// and SIPp as a scripted far end.
//
// It is meant for the _test.go files of other packages. Every function takes
// a testing.TB, picks free loopback ports, keeps all its files (rendered
// config, pid file, ctl socket, logs, SIPp traces) in t.TempDir(), stops what
// it started with t.Cleanup, and when the test has failed writes the Kamailio
// log and the SIPp logs into the test output.
//
// The binaries come from Debian packages (kamailio,
// kamailio-websocket-modules, kamailio-autheph-modules, sip-tester). When
// they are missing the test fails with a message naming them: there is no
// skip switch, CI installs them.
//
// The Kamailio config template and the SIPp scenarios live in testdata/ and
// are embedded in the package, so callers from any directory get the same
// files.
//
// A typical test:
//
//	k := interop.StartKamailio(t, interop.KamailioConfig{Users: map[string]string{"1001": "pw1001"}})
//	// register the UA under test as 1001 at k.WSURL ...
//	s := interop.StartSIPp(t, "uac_call.xml", k.UDPAddr, "-s", "1001")
//	if err := s.Wait(ctx); err != nil { t.Fatal(err) }
package interop

import (
	"embed"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

//go:embed testdata/kamailio.cfg.tmpl testdata/*.xml
var testdata embed.FS

// aptPackages is what provides the binaries and modules used here.
const aptPackages = "kamailio kamailio-websocket-modules kamailio-autheph-modules sip-tester"

// Scenarios lists the SIPp scenario files embedded from testdata/.
func Scenarios() []string {
	names, _ := fs.Glob(testdata, "testdata/*.xml")
	for i, n := range names {
		names[i] = strings.TrimPrefix(n, "testdata/")
	}
	return names
}

// lookBinary finds name on PATH or in the usual sbin/bin directories (root's
// PATH in a container may lack /usr/sbin, where Debian puts kamailio).
func lookBinary(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Fatalf("interop: %s not found; install the Debian packages: apt-get install -y %s", name, aptPackages)
	return ""
}

// freeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
// extra asks for that many further ports at +2, +4, ... to be free as well
// (SIPp binds its RTP echo port and port+2).
func freeUDPPort(t testing.TB, extra int) int {
	t.Helper()
	for range 50 {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("interop: no free UDP port: %v", err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		held := []net.PacketConn{c}
		ok := true
		for i := 1; i <= extra; i++ {
			p := port + 2*i
			if p > 65535 {
				ok = false
				break
			}
			c2, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				ok = false
				break
			}
			held = append(held, c2)
		}
		for _, h := range held {
			h.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatalf("interop: no free UDP port range found")
	return 0
}

// freeTCPPort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freeTCPPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("interop: no free TCP port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// udpBound reports whether some socket is bound to UDP port on 127.0.0.1
// or the wildcard address, reading /proc/net/udp (Linux) so that the check
// itself never holds the port.
func udpBound(port int) bool {
	data, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return false
	}
	want := fmt.Sprintf(":%04X", port)
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		local := f[1]
		if strings.HasSuffix(local, want) && (strings.HasPrefix(local, "0100007F:") || strings.HasPrefix(local, "00000000:")) {
			return true
		}
	}
	return false
}

// killGroup stops the process group led by pid: SIGTERM to the leader
// (Kamailio's main process then stops its children in order), SIGKILL to
// the whole group if exited is not closed within grace, and SIGKILL to the
// group after the leader is gone, for any child that outlived it.
func killGroup(pid int, exited <-chan struct{}, grace time.Duration) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// readFile returns a file's content, or a note saying why it can't.
func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%s: %v)", filepath.Base(path), err)
	}
	return string(b)
}

// tail returns the last max bytes of s, cut at a line start.
func tail(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[len(s)-max:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		s = s[i+1:]
	}
	return "[...]\n" + s
}
