package server

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentbar/agentbar/proxy/auth"
	"github.com/agentbar/agentbar/sip/digest"
)

// Load of BenchmarkRegistrar.
const (
	benchRegAgents   = 10_000           // agents in the configuration
	benchRegInFlight = 200              // registrations in flight at most
	benchRegRun      = 15 * time.Second // measured run of each driver
	benchRegRamp     = 3 * time.Second  // SIPp: left out of the rate
)

// BenchmarkRegistrar measures how many registrations a second the built-in
// registrar accepts over UDP, with the server's own ephemeral credentials
// ("<expiry>:<agent>" digest users, HMAC-SHA1 passwords checked by the
// SIPPassword hook) and stateless nonces. Each driver keeps 200
// registrations in flight for 15 s against a server with 10,000 agents:
//
//   - sipp: SIPp (testdata/bench_register.xml), REGISTER, 401, REGISTER
//     with MD5 qop=auth credentials, 200. SIPp cannot put injected
//     credentials in [authentication], so it registers one agent over and
//     over (refreshing one binding); its first 3 s are left out.
//
//   - go-challenge: the same exchange from a Go UDP client (200
//     goroutines, one socket each), for the 10,000 agents in turn.
//
//   - go-nonce-reuse: a Go client that got one nonce and answers it in
//     every REGISTER (nc counting up), as a phone refreshing its
//     registration does: one round trip per registration, 10,000 agents.
//
//     regs/s       registrations accepted per second
//     failed       registrations that failed or timed out
//     cpu-us/reg   this process's CPU per registration: the server's, plus
//     the Go client's in the go-* runs (SIPp's is separate)
//     sipp-cpu-%   SIPp's CPU, % of one core
//
// The driver shares the two cores with the server. Each driver runs in a
// process of its own with a fresh server (benchIsolated). Run once:
// -benchtime=1x.
func BenchmarkRegistrar(b *testing.B) {
	if !benchChild() {
		for _, sub := range []string{"sipp", "go-challenge", "go-nonce-reuse"} {
			b.Run(sub, func(b *testing.B) { benchIsolated(b, "^BenchmarkRegistrar$/^"+sub+"$") })
		}
		return
	}
	cfg := benchConfig(b, benchRegAgents)
	env := benchStartServer(b, cfg)
	registrar := env.srv.CallCenter().Addrs().SIP
	creds := make([]auth.SIPCredentials, benchRegAgents)
	for i := range creds {
		creds[i] = auth.NewSIPCredentials(env.srv.sipKey, benchAgentID(i), 2*time.Hour, time.Now())
	}
	accepted := func() uint64 { return env.srv.CallCenter().Stats().Registrations }

	b.Run("sipp", func(b *testing.B) {
		cr := creds[0]
		before := accepted()
		cpu0 := benchCPU()
		run := benchRunSIPp(b, "bench_register.xml", registrar, benchRegRun+30*time.Second,
			"-s", benchAgentID(0), "-au", cr.Username, "-ap", cr.Password,
			"-r", "50000", "-rp", "1000", "-l", strconv.Itoa(benchRegInFlight), "-m", "10000000",
			"-timeout", strconv.Itoa(int(benchRegRun/time.Second))+"s",
			"-recv_timeout", "10s",
		)
		cpu := benchCPU() - cpu0
		n := accepted() - before
		last := run.last()
		ok, failed := run.count(last, "SuccessfulCall(C)"), run.count(last, "FailedCall(C)")
		if ok == 0 {
			b.Fatalf("no registration succeeded (sipp exit %d):\n%s", run.exit, run.errors())
		}
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(run.steadyRate(benchRegRamp), "regs/s")
		b.ReportMetric(failed, "failed")
		b.ReportMetric(float64(cpu.Microseconds())/float64(max(n, 1)), "cpu-us/reg")
		b.ReportMetric(run.cpuPercent(), "sipp-cpu-%")
		b.Logf("sipp: %.0f ok, %.0f failed in %v; registrar accepted %d", ok, failed, run.at(last).Round(time.Millisecond), n)
		if failed > 0 {
			b.Logf("sipp errors:\n%s", run.errors())
		}
	})
	for _, reuse := range []bool{false, true} {
		name := "go-challenge"
		if reuse {
			name = "go-nonce-reuse"
		}
		b.Run(name, func(b *testing.B) {
			before := accepted()
			cpu0, t0 := benchCPU(), time.Now()
			ok, failed := benchRegisterLoad(b, registrar, creds, reuse, benchRegRun)
			cpu, wall := benchCPU()-cpu0, time.Since(t0)
			n := accepted() - before
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(ok)/wall.Seconds(), "regs/s")
			b.ReportMetric(float64(failed), "failed")
			b.ReportMetric(float64(cpu.Microseconds())/float64(max(n, 1)), "cpu-us/reg")
			m := benchReadMem()
			b.Logf("%d ok, %d failed in %v; registrar accepted %d; process CPU %.0f%% of one core; heap+stack %d MiB, %d goroutines after",
				ok, failed, wall.Round(time.Millisecond), n, float64(cpu)/float64(wall)*100, m.heapStack>>20, m.gor)
		})
	}
}

// benchRegisterLoad registers the agents of creds in turn from
// benchRegInFlight goroutines for d, and counts the outcomes.
func benchRegisterLoad(b *testing.B, registrar string, creds []auth.SIPCredentials, reuse bool, d time.Duration) (ok, failed int64) {
	var nOK, nFailed atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for g := range benchRegInFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := benchNewRegClient(registrar)
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			defer c.conn.Close()
			for i := g; time.Now().Before(deadline); i += benchRegInFlight {
				cr := creds[i%len(creds)]
				if err := c.register(benchAgentID(i%len(creds)), cr, reuse); err != nil {
					nFailed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				nOK.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		b.Logf("first failure: %v", err)
	}
	return nOK.Load(), nFailed.Load()
}

// benchRegClient is one UDP registering client: a connected socket and
// the nonce it last got.
type benchRegClient struct {
	conn  *net.UDPConn
	local string
	id    string // makes Call-IDs and branches unique across runs that reuse a port
	buf   []byte
	seq   int
	ch    *digest.Challenge // the last challenge, answered again when reusing
	nc    uint32
}

func benchNewRegClient(registrar string) (*benchRegClient, error) {
	ra, err := net.ResolveUDPAddr("udp", registrar)
	if err != nil {
		return nil, err
	}
	conn, err := net.DialUDP("udp", nil, ra)
	if err != nil {
		return nil, err
	}
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	return &benchRegClient{conn: conn, local: conn.LocalAddr().String(), id: id, buf: make([]byte, 65535)}, nil
}

// register registers agent once: with the nonce it holds when reusing
// (and one has been got), else after a 401.
func (c *benchRegClient) register(agent string, cr auth.SIPCredentials, reuse bool) error {
	c.seq++
	callID := fmt.Sprintf("%s-%d-%s", c.id, c.seq, c.local)
	cseq := 1
	if !(reuse && c.ch != nil) {
		status, res, err := c.exchange(c.request(agent, callID, cseq, ""))
		if err != nil {
			return err
		}
		if status != 401 {
			return fmt.Errorf("REGISTER without credentials: %d", status)
		}
		h := benchHeader(res, "WWW-Authenticate")
		if c.ch, err = digest.ParseChallenge(h); err != nil {
			return fmt.Errorf("challenge %q: %w", h, err)
		}
		c.nc = 0
		cseq++
	}
	c.nc++
	resp, err := digest.Respond(c.ch, "REGISTER", "sip:agentbar.local", cr.Username, cr.Password, c.nc, "", nil)
	if err != nil {
		return err
	}
	status, _, err := c.exchange(c.request(agent, callID, cseq, resp.String()))
	if err != nil {
		return err
	}
	if status != 200 {
		c.ch = nil
		return fmt.Errorf("REGISTER with credentials: %d", status)
	}
	return nil
}

// request is a REGISTER for agent, with an Authorization value if given.
func (c *benchRegClient) request(agent, callID string, cseq int, authorization string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "REGISTER sip:agentbar.local SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;branch=z9hG4bK-%s-%d;rport\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:%s@agentbar.local>;tag=%d\r\n"+
		"To: <sip:%s@agentbar.local>\r\n"+
		"Call-ID: %s\r\n"+
		"CSeq: %d REGISTER\r\n"+
		"Contact: <sip:%s@%s>\r\n"+
		"Expires: 3600\r\n",
		c.local, callID, cseq, agent, c.seq, agent, callID, cseq, agent, c.local)
	if authorization != "" {
		b.WriteString("Authorization: " + authorization + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.Bytes()
}

// exchange sends req and returns the status and text of the first final
// response (a retransmission after 500 ms, then 1 s, gives up at 4 s).
func (c *benchRegClient) exchange(req []byte) (int, []byte, error) {
	branch := req[bytes.Index(req, []byte("branch=")):]
	branch = branch[:bytes.IndexByte(branch, ';')+1] // "branch=...;": the whole parameter
	wait := 500 * time.Millisecond
	for try := 0; try < 3; try++ {
		if _, err := c.conn.Write(req); err != nil {
			return 0, nil, err
		}
		c.conn.SetReadDeadline(time.Now().Add(wait))
		for {
			n, err := c.conn.Read(c.buf)
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					break
				}
				return 0, nil, err
			}
			res := c.buf[:n]
			if len(res) < 12 || !bytes.HasPrefix(res, []byte("SIP/2.0 ")) {
				continue
			}
			status, _ := strconv.Atoi(string(res[8:11]))
			if status < 200 || !bytes.Contains(res, branch) {
				continue // provisional, or a late answer to an earlier request
			}
			return status, res, nil
		}
		wait *= 2
	}
	return 0, nil, fmt.Errorf("no final response")
}

// benchHeader is the value of the first header called name in a message.
func benchHeader(msg []byte, name string) string {
	for _, line := range bytes.Split(msg, []byte("\r\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(k), []byte(name)) {
			return string(bytes.TrimSpace(v))
		}
	}
	return ""
}
