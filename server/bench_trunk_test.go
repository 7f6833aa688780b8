package server

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentbar/agentbar/internal/agentphone"
	"github.com/agentbar/agentbar/proxy/gateway"
	"github.com/agentbar/agentbar/server/callcenter"
	"github.com/agentbar/agentbar/sip"
)

// Load of BenchmarkTrunkCallSetup.
const (
	benchTrunkRun   = 20 * time.Second // SIPp's run (its global -timeout)
	benchTrunkRamp  = 3 * time.Second  // left out of the rate
	benchTrunkPause = 100              // ms between ACK and BYE
)

// BenchmarkTrunkCallSetup measures call setups per second through the
// trunk: SIPp (testdata/bench_trunk_call.xml) dials the queue, the call
// center answers the customer's INVITE once an agent's phone has answered
// its own INVITE, SIPp ACKs, waits 100 ms and hangs up. The phones are our
// sip.UA, registered over SIP-over-WebSocket straight to the call center's
// WebSocket listener (Config.WSListen; not through the proxy's edge), each
// answering at once; the agents have no wrap-up (WrapUp < 0), so an agent
// is ready again as soon as its call ends. SIPp keeps one call in flight
// per agent, so the agents are always busy, and runs 20 s; the first 3 s
// are left out.
//
//   - fake-media: the call center's FakeMedia and phones answering with
//     plain SDP: signalling only. 200 agents, so that the agents are not
//     what limits the rate.
//
//   - real-media: server.New's media factory (a WebRTC leg to the phone
//     with ICE and DTLS-SRTP, an RTP leg to SIPp, a mixing bridge) and
//     phones with real WebRTC media (internal/agentphone, pion) sending a
//     voice 50 packets a second. 20 agents.
//
//     calls/s         successful calls per second (SIPp's count)
//     failed          failed calls (SIPp's count, whole run)
//     setup-ms        SIPp's mean INVITE-to-200 time
//     cpu-ms/call     this process's CPU per call: the call center and the
//     phones (SIPp runs apart, on the same two cores)
//     sipp-cpu-%      SIPp's CPU, % of one core
//
// Each case runs in a process of its own (benchIsolated). Run once:
// -benchtime=1x.
func BenchmarkTrunkCallSetup(b *testing.B) {
	for _, sub := range []struct {
		name   string
		real   bool
		agents int
	}{{"fake-media", false, 200}, {"real-media", true, 20}} {
		b.Run(sub.name, func(b *testing.B) {
			if !benchChild() {
				benchIsolated(b, "^BenchmarkTrunkCallSetup$/^"+sub.name+"$")
				return
			}
			benchTrunk(b, sub.real, sub.agents)
		})
	}
}

func benchTrunk(b *testing.B, real bool, agents int) {
	var media callcenter.MediaFactory = callcenter.NewFakeMedia()
	if real {
		media = &mediaFactory{ip: "127.0.0.1", loopback: true}
	}
	cfg := callcenter.Config{
		SIPListen:   "127.0.0.1:0",
		WSListen:    "127.0.0.1:0",
		TrunkListen: "127.0.0.1:0",
		Queues:      []callcenter.QueueConfig{{ID: benchQueue, Name: "Support"}},
		WrapUp:      -1,
		SIPPassword: func(username string) (string, bool) { return "pw-" + username, true },
		Media:       media,
		Logger:      benchLogger(),
	}
	for i := range agents {
		cfg.Agents = append(cfg.Agents, callcenter.AgentConfig{ID: benchAgentID(i), Queues: []string{benchQueue}})
	}
	cc, err := callcenter.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cc.Close(ctx)
	})

	var answered, answerErrors, heard atomic.Int64
	var events atomic.Int64
	for i := range agents {
		agent := benchAgentID(i)
		p := &benchPhone{real: real, answered: &answered, errors: &answerErrors, heard: &heard}
		ua, err := sip.NewUA(sip.Config{
			URL: "ws://" + cc.Addrs().WS, User: agent, Domain: "agentbar.local",
			Password: "pw-" + agent, KeepAlive: -1, OnIncoming: p.incoming,
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = ua.Start(ctx)
		cancel()
		if err != nil {
			b.Fatalf("phone %s: %v", agent, err)
		}
		b.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ua.Close(ctx)
		})
		s, err := cc.SignIn(agent, gateway.SignInOptions{}, func(gateway.Event) { events.Add(1) })
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Do(context.Background(), gateway.Command{Op: gateway.OpReady}); err != nil {
			b.Fatal(err)
		}
	}

	before := cc.Stats()
	cpu0 := benchCPU()
	run := benchRunSIPp(b, "bench_trunk_call.xml", cc.Addrs().Trunk, benchTrunkRun+60*time.Second,
		"-s", benchQueue,
		"-r", "5000", "-rp", "1000", "-l", strconv.Itoa(agents), "-m", "10000000",
		"-d", strconv.Itoa(benchTrunkPause),
		"-timeout", strconv.Itoa(int(benchTrunkRun/time.Second))+"s",
		"-recv_timeout", "20s",
	)
	cpu := benchCPU() - cpu0
	after := cc.Stats()
	last := run.last()
	ok, failed := run.count(last, "SuccessfulCall(C)"), run.count(last, "FailedCall(C)")
	if ok == 0 {
		b.Fatalf("no call succeeded (sipp exit %d):\n%s", run.exit, run.errors())
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(run.steadyRate(benchTrunkRamp), "calls/s")
	b.ReportMetric(failed, "failed")
	b.ReportMetric(benchMS(run.duration(last, "ResponseTime1(C)")), "setup-ms")
	b.ReportMetric(benchMS(cpu)/max(ok, 1), "cpu-ms/call")
	b.ReportMetric(run.cpuPercent(), "sipp-cpu-%")
	if real {
		b.ReportMetric(float64(heard.Load())/float64(max(answered.Load(), 1))*100, "media-%")
	}
	b.Logf("sipp: %.0f ok, %.0f failed in %v (exit %d); call center: %d received, %d answered, %d ended; phones answered %d (%d errors); %d agent events",
		ok, failed, run.at(last).Round(time.Millisecond), run.exit,
		after.CallsReceived-before.CallsReceived, after.CallsAnswered-before.CallsAnswered, after.CallsEnded-before.CallsEnded,
		answered.Load(), answerErrors.Load(), events.Load())
	if failed > 0 {
		b.Logf("sipp errors:\n%s", benchTail(run.errors(), 3000))
	}
}

// benchPhone answers every call at once, with fake or real media, and
// closes the media when the call ends.
type benchPhone struct {
	real     bool
	answered *atomic.Int64
	errors   *atomic.Int64
	heard    *atomic.Int64 // real media: calls in which the phone received audio
}

func (p *benchPhone) incoming(c *sip.Call) {
	var m sip.Media = benchPlainMedia{}
	if p.real {
		ph, err := agentphone.New(agentphone.Config{LoopbackCandidates: true})
		if err != nil {
			p.errors.Add(1)
			c.Reject(500, "Server Internal Error")
			return
		}
		m = ph
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Answer(ctx, m); err != nil {
		p.errors.Add(1)
	} else {
		p.answered.Add(1)
	}
	if ph, ok := m.(*agentphone.Phone); ok {
		go func() {
			<-c.Done()
			if ph.Stats().PacketsIn > 0 {
				p.heard.Add(1)
			}
			ph.Close()
		}()
	}
}

// benchPlainMedia answers any offer with plain PCMU SDP: a phone without audio.
type benchPlainMedia struct{}

var benchSDPVersion atomic.Int64

func benchSDP() []byte {
	return fmt.Appendf(nil, "v=0\r\no=bench 1 %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio 50000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n", benchSDPVersion.Add(1))
}

func (benchPlainMedia) Offer(context.Context) ([]byte, error)          { return benchSDP(), nil }
func (benchPlainMedia) Answer(context.Context, []byte) ([]byte, error) { return benchSDP(), nil }
func (benchPlainMedia) SetAnswer(context.Context, []byte, bool) error  { return nil }
