package interop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/coder/websocket"
)

// KamailioConfig describes the registrar/proxy that StartKamailio runs.
type KamailioConfig struct {
	// Domain is the SIP domain and digest realm. Default "127.0.0.1".
	Domain string
	// Users maps user name to plaintext password. These users must
	// authenticate (digest, qop=auth) to REGISTER, and only they can be
	// called at this domain. Empty: no authentication, any user name.
	Users map[string]string
	// Algorithm is the digest algorithm Kamailio challenges with: "MD5"
	// (default) or "SHA-256".
	Algorithm string
	// ProxyAuthInvite challenges initial INVITEs whose From user is one of
	// Users with 407 (Proxy-Authenticate), in addition to the 401 for
	// REGISTER. Callers that are not local users (SIPp) are never
	// challenged.
	ProxyAuthInvite bool
	// Debug is Kamailio's log level (core "debug"): 0 means the default, 2
	// (info), which logs one line per request and reply; 3 is debug, 1
	// notice, -1 errors only.
	Debug int
	// ReadyTimeout bounds the wait for both listeners. Default 15s.
	ReadyTimeout time.Duration
}

// Kamailio is a running Kamailio started by StartKamailio.
type Kamailio struct {
	// WSURL is ws://127.0.0.1:PORT/, SIP over WebSocket (subprotocol "sip").
	WSURL string
	// UDPAddr is 127.0.0.1:PORT, plain SIP over UDP (for SIPp).
	UDPAddr string
	// TCPAddr is the TCP listener carrying the WebSocket (same port as WSURL).
	TCPAddr string
	// Domain is the SIP domain and digest realm.
	Domain string
	// Algorithm is the digest algorithm in challenges ("MD5" or "SHA-256").
	Algorithm string

	// Dir holds everything of this instance: ConfigPath, LogPath,
	// the pid file and the runtime dir; CtlSocket too unless the path would
	// be too long for a unix socket.
	Dir        string
	ConfigPath string
	LogPath    string
	CtlSocket  string

	cmd      *exec.Cmd
	exited   chan struct{}
	stopOnce sync.Once
}

// Log returns what Kamailio has logged so far (stderr and stdout).
func (k *Kamailio) Log() string { return readFile(k.LogPath) }

// AOR returns sip:user@domain.
func (k *Kamailio) AOR(user string) string { return "sip:" + user + "@" + k.Domain }

// Pid returns the process id of Kamailio's main process.
func (k *Kamailio) Pid() int { return k.cmd.Process.Pid }

// Stop terminates Kamailio (the whole process group). Cleanup does this
// too; Stop exists for tests of what a UA does when the server goes away.
func (k *Kamailio) Stop() {
	k.stopOnce.Do(func() { killGroup(k.cmd.Process.Pid, k.exited, 5*time.Second) })
}

// kamailioUser is a user in the rendered config.
type kamailioUser struct{ Name, Password string }

// kamailioTemplateData fills testdata/kamailio.cfg.tmpl.
type kamailioTemplateData struct {
	IP              string
	UDPPort         int
	TCPPort         int
	Domain          string
	Algorithm       string
	Users           []kamailioUser
	ProxyAuthInvite bool
	Debug           int
	Dir             string
	CtlSocket       string
	ModulePath      string
}

var (
	userNameRE = regexp.MustCompile(`^[A-Za-z0-9._~!*'()+-]+$`)
	domainRE   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)
)

// kamailioModules are loaded by the template; their presence is checked so
// that a missing Debian package is named instead of a Kamailio error.
var kamailioModules = map[string]string{
	"tm.so":        "kamailio",
	"auth.so":      "kamailio",
	"xhttp.so":     "kamailio",
	"nathelper.so": "kamailio",
	"websocket.so": "kamailio-websocket-modules",
}

// findModulePath returns the directory with Kamailio's modules, or "" to
// leave Kamailio's built-in default.
func findModulePath(t testing.TB) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/*/kamailio/modules")
	dirs = append(dirs, "/usr/lib/kamailio/modules", "/usr/lib64/kamailio/modules", "/usr/local/lib64/kamailio/modules", "/usr/local/lib/kamailio/modules")
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "tm.so")); err != nil {
			continue
		}
		var missing []string
		for mod, pkg := range kamailioModules {
			if _, err := os.Stat(filepath.Join(d, mod)); err != nil {
				missing = append(missing, mod+" ("+pkg+")")
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			t.Fatalf("interop: Kamailio modules missing in %s: %s; install the Debian packages: apt-get install -y %s",
				d, strings.Join(missing, ", "), aptPackages)
		}
		return d
	}
	return ""
}

func (cfg KamailioConfig) templateData(t testing.TB) kamailioTemplateData {
	t.Helper()
	d := kamailioTemplateData{
		IP:              "127.0.0.1",
		Domain:          cfg.Domain,
		ProxyAuthInvite: cfg.ProxyAuthInvite,
		Debug:           cfg.Debug,
	}
	if d.Domain == "" {
		d.Domain = d.IP
	}
	if !domainRE.MatchString(d.Domain) {
		t.Fatalf("interop: KamailioConfig.Domain %q: want a host name or IPv4 address", d.Domain)
	}
	switch strings.ToUpper(cfg.Algorithm) {
	case "", "MD5":
		d.Algorithm = "MD5"
	case "SHA-256", "SHA256":
		d.Algorithm = "SHA-256"
	default:
		t.Fatalf("interop: KamailioConfig.Algorithm %q: Kamailio 5.6 supports MD5 and SHA-256", cfg.Algorithm)
	}
	if d.Debug == 0 {
		d.Debug = 2
	}
	for name, pw := range cfg.Users {
		if !userNameRE.MatchString(name) {
			t.Fatalf("interop: KamailioConfig.Users: user name %q has characters this helper does not put in a config", name)
		}
		if strings.ContainsAny(pw, "\"\\") || strings.IndexFunc(pw, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
			t.Fatalf("interop: KamailioConfig.Users[%q]: password must not contain quotes, backslashes or control characters", name)
		}
		d.Users = append(d.Users, kamailioUser{Name: name, Password: pw})
	}
	sort.Slice(d.Users, func(i, j int) bool { return d.Users[i].Name < d.Users[j].Name })
	return d
}

// StartKamailio runs Kamailio as a SIP-over-WebSocket registrar and proxy on
// free loopback ports and returns once both the UDP and the WebSocket
// listener answer (it polls them). The process group is killed on cleanup;
// if the test failed, the Kamailio log goes to t.Log.
func StartKamailio(t testing.TB, cfg KamailioConfig) *Kamailio {
	t.Helper()
	bin := lookBinary(t, "kamailio")
	data := cfg.templateData(t)
	data.ModulePath = findModulePath(t)

	tmpl, err := template.ParseFS(testdata, "testdata/kamailio.cfg.tmpl")
	if err != nil {
		t.Fatalf("interop: kamailio template: %v", err)
	}
	readyTimeout := cfg.ReadyTimeout
	if readyTimeout <= 0 {
		readyTimeout = 15 * time.Second
	}

	dir := t.TempDir()
	data.Dir = dir
	data.CtlSocket = filepath.Join(dir, "ctl.sock")
	if len(data.CtlSocket) > 100 { // sun_path is 108 bytes
		short, err := os.MkdirTemp("/tmp", "kam")
		if err != nil {
			t.Fatalf("interop: %v", err)
		}
		t.Cleanup(func() { os.RemoveAll(short) })
		data.CtlSocket = filepath.Join(short, "ctl.sock")
	}
	runDir := filepath.Join(dir, "run")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatalf("interop: %v", err)
	}

	// Ports are picked free and then released, so another process may take
	// one before Kamailio binds it: then start again with new ports.
	const attempts = 3
	for attempt := 1; ; attempt++ {
		data.UDPPort = freeUDPPort(t, 0)
		data.TCPPort = freeTCPPort(t)
		for data.TCPPort == data.UDPPort {
			data.TCPPort = freeTCPPort(t)
		}
		k := &Kamailio{
			WSURL:      fmt.Sprintf("ws://%s:%d/", data.IP, data.TCPPort),
			UDPAddr:    net.JoinHostPort(data.IP, strconv.Itoa(data.UDPPort)),
			TCPAddr:    net.JoinHostPort(data.IP, strconv.Itoa(data.TCPPort)),
			Domain:     data.Domain,
			Algorithm:  data.Algorithm,
			Dir:        dir,
			ConfigPath: filepath.Join(dir, "kamailio.cfg"),
			LogPath:    filepath.Join(dir, fmt.Sprintf("kamailio-%d.log", attempt)),
			CtlSocket:  data.CtlSocket,
			exited:     make(chan struct{}),
		}
		var cfgText strings.Builder
		if err := tmpl.Execute(&cfgText, data); err != nil {
			t.Fatalf("interop: render kamailio config: %v", err)
		}
		if err := os.WriteFile(k.ConfigPath, []byte(cfgText.String()), 0o644); err != nil {
			t.Fatalf("interop: %v", err)
		}
		os.Remove(data.CtlSocket)

		logFile, err := os.Create(k.LogPath)
		if err != nil {
			t.Fatalf("interop: %v", err)
		}
		k.cmd = exec.Command(bin,
			"-DD", "-E", "-S",
			"-f", k.ConfigPath,
			"-P", filepath.Join(dir, "kamailio.pid"),
			"-Y", runDir,
			"-w", dir,
			"-m", "32", "-M", "8",
		)
		k.cmd.Dir = dir
		k.cmd.Stdout = logFile
		k.cmd.Stderr = logFile
		k.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := k.cmd.Start(); err != nil {
			logFile.Close()
			t.Fatalf("interop: start %s: %v", bin, err)
		}
		go func() {
			_ = k.cmd.Wait()
			logFile.Close()
			close(k.exited)
		}()
		t.Cleanup(func() {
			k.Stop()
			if t.Failed() {
				t.Logf("interop: kamailio log %s:\n%s", k.LogPath, tail(k.Log(), 128<<10))
			}
		})

		err = k.waitReady(readyTimeout)
		if err == nil {
			return k
		}
		k.Stop()
		log := k.Log()
		if attempt < attempts && strings.Contains(log, "Address already in use") {
			t.Logf("interop: kamailio could not bind its ports (attempt %d), retrying", attempt)
			continue
		}
		t.Fatalf("interop: kamailio (udp %s, ws %s) not ready: %v (config %s; its log follows)",
			k.UDPAddr, k.WSURL, err, k.ConfigPath)
	}
}

// waitReady polls both listeners until each has answered once: an OPTIONS
// over UDP must get a response, and a WebSocket handshake with subprotocol
// "sip" must succeed.
func (k *Kamailio) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer udp.Close()
	raddr, err := net.ResolveUDPAddr("udp4", k.UDPAddr)
	if err != nil {
		return err
	}
	laddr := udp.LocalAddr().String()

	udpOK, wsOK := false, false
	var lastErr error
	buf := make([]byte, 4096)
	for n := 1; ; n++ {
		select {
		case <-k.exited:
			return fmt.Errorf("kamailio exited: %v", k.cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timeout after %v (udp ready %v, ws ready %v): %v", timeout, udpOK, wsOK, lastErr)
		}
		if !udpOK {
			probe := fmt.Sprintf("OPTIONS sip:%[1]s SIP/2.0\r\n"+
				"Via: SIP/2.0/UDP %[2]s;branch=z9hG4bK-interop-probe-%[3]d;rport\r\n"+
				"From: <sip:probe@%[2]s>;tag=probe%[3]d\r\n"+
				"To: <sip:%[1]s>\r\n"+
				"Call-ID: interop-probe-%[3]d@%[2]s\r\n"+
				"CSeq: %[3]d OPTIONS\r\n"+
				"Max-Forwards: 70\r\n"+
				"Content-Length: 0\r\n\r\n", k.UDPAddr, laddr, n)
			if _, err := udp.WriteTo([]byte(probe), raddr); err != nil {
				lastErr = err
			}
			_ = udp.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if m, _, err := udp.ReadFrom(buf); err == nil && strings.HasPrefix(string(buf[:m]), "SIP/2.0 ") {
				udpOK = true
			} else if err != nil {
				lastErr = fmt.Errorf("udp: %w", err)
			}
		}
		if !wsOK {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			c, resp, err := websocket.Dial(ctx, k.WSURL, &websocket.DialOptions{Subprotocols: []string{"sip"}})
			cancel()
			if err == nil {
				proto := c.Subprotocol()
				c.CloseNow()
				if proto == "sip" {
					wsOK = true
				} else {
					lastErr = fmt.Errorf("ws: subprotocol %q, want sip", proto)
				}
			} else {
				if resp != nil {
					err = fmt.Errorf("%w (HTTP %s)", err, resp.Status)
				}
				lastErr = fmt.Errorf("ws: %w", err)
				if !errors.Is(err, context.DeadlineExceeded) {
					time.Sleep(20 * time.Millisecond) // refused: poll again shortly
				}
			}
		}
		if udpOK && wsOK {
			return nil
		}
	}
}
