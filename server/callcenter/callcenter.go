package callcenter

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// CallCenter is the built-in contact center. Make one with New; it serves
// SIP until Close.
type CallCenter struct {
	cfg   Config
	log   *slog.Logger
	media MediaFactory
	now   func() time.Time
	nonce nonceKey
	tr    *tracker        // calls' goroutines: Close waits for them
	serve *tracker        // the listeners' goroutines
	ctx   context.Context // ends at Close: aborts SIP work in flight
	stop  context.CancelFunc

	agentEP *endpoint
	trunkEP *endpoint // nil when the trunk is off

	mu         sync.Mutex
	closed     bool
	agents     map[string]*agent
	agentOrder []string
	queues     map[string]*queue
	queueOrder []string
	calls      map[string]*call
	history    *history
	legsBySIP  map[string]*leg   // agent-leg SIP Call-ID -> leg
	trunkBySIP map[string]*party // trunk SIP Call-ID -> party
	stats      Stats
}

// Addrs are the addresses a CallCenter listens on.
type Addrs struct {
	SIP   string // agents' phones, UDP and TCP
	WS    string // agents' phones over WebSocket, "" if off
	Trunk string // customers, UDP and TCP, "" if off
}

// Stats counts what happened since New.
type Stats struct {
	Registrations   uint64 // REGISTERs accepted (including refreshes and removals)
	AuthFailures    uint64 // REGISTERs refused for credentials
	CallsReceived   uint64 // customer calls that entered a queue
	CallsAnswered   uint64 // customer calls an agent answered
	CallsAbandoned  uint64 // customer calls that hung up before an agent answered
	CallsRejected   uint64 // offers an agent refused
	CallsMissed     uint64 // offers an agent's phone did not answer in time
	CallsTransfered uint64 // blind and consulted transfers completed
	CallsEnded      uint64 // calls that ended, whatever the outcome
	Waiting         int    // calls waiting in queues now
	Bindings        int    // phone registrations in force now
}

// New checks cfg, opens the SIP listeners and starts serving.
func New(cfg Config) (*CallCenter, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cc := &CallCenter{
		cfg:        cfg,
		log:        cfg.Logger,
		media:      cfg.Media,
		now:        cfg.Clock,
		tr:         newTracker(),
		serve:      newTracker(),
		agents:     map[string]*agent{},
		queues:     map[string]*queue{},
		calls:      map[string]*call{},
		history:    newHistory(1000),
		legsBySIP:  map[string]*leg{},
		trunkBySIP: map[string]*party{},
	}
	if _, err := rand.Read(cc.nonce[:]); err != nil {
		return nil, fmt.Errorf("callcenter: %w", err)
	}
	cc.ctx, cc.stop = context.WithCancel(context.Background())
	for _, q := range cfg.Queues {
		cc.queues[q.ID] = &queue{id: q.ID, name: q.Name}
		cc.queueOrder = append(cc.queueOrder, q.ID)
	}
	for _, a := range cfg.Agents {
		wrap := a.WrapUp
		if wrap == 0 {
			wrap = cfg.WrapUp
		}
		cc.agentOrder = append(cc.agentOrder, a.ID)
		cc.agents[a.ID] = &agent{id: a.ID, name: a.Name, queues: slices.Clone(a.Queues), wrapUp: wrap, state: gateway.StateSignedOut}
	}
	if cc.agentEP, err = newEndpoint("agents", cfg.SIPListen, cfg.WSListen, cc.log); err != nil {
		return nil, err
	}
	if cfg.TrunkListen != "off" {
		if cc.trunkEP, err = newEndpoint("trunk", cfg.TrunkListen, "", cc.log); err != nil {
			cc.agentEP.close()
			return nil, err
		}
		cc.trunkEP.guard = newGuard(cc.trunkEP.log, func(user string) bool {
			cc.mu.Lock()
			defer cc.mu.Unlock()
			return cc.queues[user] != nil
		})
	}
	cc.routeAgentSIP()
	if cc.trunkEP != nil {
		cc.routeTrunkSIP()
	}
	cc.agentEP.serve(cc.serve)
	if cc.trunkEP != nil {
		cc.trunkEP.serve(cc.serve)
	}
	if cfg.SIPPassword == nil {
		cc.log.Warn("callcenter: SIP authentication is off (no SIPPassword hook)")
	}
	a := cc.Addrs()
	cc.log.Info("callcenter: serving", "sip", a.SIP, "ws", a.WS, "trunk", a.Trunk)
	return cc, nil
}

// Addrs returns the addresses the call center listens on.
func (cc *CallCenter) Addrs() Addrs {
	a := Addrs{SIP: cc.agentEP.addr("UDP")}
	if cc.agentEP.ws != nil {
		a.WS = cc.agentEP.ws.Addr().String()
	}
	if cc.trunkEP != nil {
		a.Trunk = cc.trunkEP.addr("UDP")
	}
	return a
}

// Stats returns the counters.
func (cc *CallCenter) Stats() Stats {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	s := cc.stats
	for _, q := range cc.queues {
		s.Waiting += len(q.waiting)
	}
	now := cc.now()
	for _, a := range cc.agents {
		for _, b := range a.bindings {
			if b.expires.After(now) {
				s.Bindings++
			}
		}
	}
	return s
}

// spawn runs fn on a goroutine Close waits for.
func (cc *CallCenter) spawn(fn func()) { cc.tr.Go(fn) }

// update runs fn with the lock held, then what fn left to do after it.
func (cc *CallCenter) update(fn func(a *after)) {
	var a after
	cc.mu.Lock()
	fn(&a)
	cc.mu.Unlock()
	a.run()
}

// ErrClosed is returned by operations on a closed CallCenter.
var ErrClosed = errors.New("callcenter: closed")

// Close ends every call (BYE to every party), signs every agent out,
// stops the SIP listeners and waits for the call center's goroutines, at
// most until ctx ends.
func (cc *CallCenter) Close(ctx context.Context) error {
	cc.update(func(a *after) {
		if cc.closed {
			return
		}
		cc.closed = true
		for _, c := range cc.calls {
			cc.endCall(c, "shutdown", a)
		}
		for _, ag := range cc.agents {
			ag.stopTimer()
			if s := ag.sess; s != nil {
				cc.emit(ag, gateway.Event{Type: gateway.EvNotice, Code: string(gateway.CodeSessionLost), Message: "the call center is shutting down"})
				cc.setState(ag, gateway.StateSignedOut, "", a)
				ag.sess = nil
			}
		}
	})
	// Let the BYEs go out before the transports close.
	drain, cancel := context.WithTimeout(ctx, 2*time.Second)
	cc.tr.Wait(drain)
	cancel()
	cc.stop()
	cc.agentEP.close()
	if cc.trunkEP != nil {
		cc.trunkEP.close()
	}
	if err := cc.tr.Wait(ctx); err != nil {
		return err
	}
	return cc.serve.Wait(ctx)
}
