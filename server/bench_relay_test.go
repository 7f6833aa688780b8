package server

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentbar/agentbar/proxy/control/wire"
	"github.com/agentbar/agentbar/proxy/gateway"
)

// Load of BenchmarkEventRelay.
const (
	benchRelayAgents = 100
	benchRelayRate   = 2000 // events per second, all agents together
	benchRelayWarmup = 3 * time.Second
	benchRelayRun    = 20 * time.Second
)

// BenchmarkEventRelay measures how long an event takes from the call
// center to the bar: from the moment the call center makes it (its "time"
// field, stamped when the agent's state changes) through the session's
// sink, the hub, the event log (a JetStream append and the agent's ordered
// consumer) and the control WebSocket, to the bar reading and decoding it.
//
// 100 agents are signed in over their control channels; each sends
// not_ready (reason "meeting") and ready alternately, 20 commands a second,
// spread evenly, so the call center makes 2,000 events a second. Every
// command changes the state, so each one makes exactly one event. The bars
// run in this process and share its two cores with the server.
//
//	p50-ms, p99-ms, max-ms  relay latency over the measured window
//	events/s                events received per second in that window
//	cmd-errors              commands refused or unanswered (should be 0)
//	cpu-%                   the process's CPU (server and bars), % of one core
//
// It runs in a process of its own (benchIsolated). Run once: -benchtime=1x.
func BenchmarkEventRelay(b *testing.B) {
	if !benchChild() {
		benchIsolated(b, "^BenchmarkEventRelay$")
		return
	}
	cfg := benchConfig(b, benchRelayAgents)
	env := benchStartServer(b, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	bars := make([]*benchBar, benchRelayAgents)
	for i := range bars {
		agent := benchAgentID(i)
		bar, err := benchDialBar(ctx, env.wsURL, agent, env.token(b, agent))
		if err != nil {
			b.Fatal(err)
		}
		if err := bar.signIn(ctx); err != nil {
			b.Fatal(err)
		}
		bars[i] = bar
		defer bar.ws.CloseNow()
	}

	var measuring atomic.Bool
	var (
		mu        sync.Mutex
		latencies []time.Duration
		received  int
		cmdErrors atomic.Int64
		replies   atomic.Int64
	)
	var readers sync.WaitGroup
	for _, bar := range bars {
		readers.Add(1)
		go func() {
			defer readers.Done()
			var local []time.Duration
			n := 0
			defer func() {
				mu.Lock()
				latencies = append(latencies, local...)
				received += n
				mu.Unlock()
			}()
			for {
				_, data, err := bar.ws.Read(ctx)
				now := time.Now()
				if err != nil {
					return
				}
				var m wire.ServerMessage
				if err := json.Unmarshal(data, &m); err != nil {
					cmdErrors.Add(1)
					continue
				}
				switch m.Type {
				case wire.TypeReply:
					replies.Add(1)
					if m.OK == nil || !*m.OK {
						cmdErrors.Add(1)
					}
				case wire.TypeEvent:
					var ev gateway.Event
					if m.Seq == 0 || json.Unmarshal(m.Event, &ev) != nil || !measuring.Load() {
						continue
					}
					local = append(local, now.Sub(ev.Time))
					n++
				}
			}
		}()
	}

	// Senders: each agent every 50 ms, the agents' ticks spread over the period.
	period := time.Duration(benchRelayAgents) * time.Second / benchRelayRate
	var sent atomic.Int64
	var senders sync.WaitGroup
	stop := make(chan struct{})
	for i, bar := range bars {
		senders.Add(1)
		go func() {
			defer senders.Done()
			time.Sleep(period * time.Duration(i) / benchRelayAgents)
			tick := time.NewTicker(period)
			defer tick.Stop()
			for k := 0; ; k++ {
				m := wire.ClientMessage{Type: wire.TypeCmd, ID: fmt.Sprint(k), Op: string(gateway.OpReady)}
				if k%2 == 1 {
					m.Op, m.Reason = string(gateway.OpNotReady), "meeting"
				}
				if err := bar.send(ctx, m); err != nil {
					return
				}
				sent.Add(1)
				select {
				case <-tick.C:
				case <-stop:
					return
				}
			}
		}()
	}

	time.Sleep(benchRelayWarmup)
	cpu0 := benchCPU()
	start := time.Now()
	measuring.Store(true)
	time.Sleep(benchRelayRun)
	measuring.Store(false)
	window := time.Since(start)
	cpu := benchCPU() - cpu0
	close(stop)
	senders.Wait()
	time.Sleep(time.Second) // the last replies
	unanswered := sent.Load() - replies.Load()
	cancel()
	readers.Wait()

	slices.Sort(latencies)
	if len(latencies) == 0 {
		b.Fatal("no event arrived")
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(benchMS(benchPercentile(latencies, 50)), "p50-ms")
	b.ReportMetric(benchMS(benchPercentile(latencies, 99)), "p99-ms")
	b.ReportMetric(benchMS(latencies[len(latencies)-1]), "max-ms")
	b.ReportMetric(float64(received)/window.Seconds(), "events/s")
	b.ReportMetric(float64(cmdErrors.Load()+max(0, unanswered)), "cmd-errors")
	b.ReportMetric(float64(cpu)/float64(window)*100, "cpu-%")
	b.Logf("%d events in %v; p90 %.2f ms, p99.9 %.2f ms; %d commands sent, %d replies",
		received, window.Round(time.Millisecond), benchMS(benchPercentile(latencies, 90)), benchMS(benchPercentile(latencies, 99.9)), sent.Load(), replies.Load())
}
