package callcenter

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// CallStats is what a call's customer side measured and what happened to it.
type CallStats struct {
	// Customer is what the customer's port measured (level and packets
	// heard and sent): with real media, proof that audio flowed both ways.
	Customer PortStats
	// DTMF lists the digits played to the customer, in order.
	DTMF string
	// Held tells whether the customer hears hold now.
	Held bool
	// Agents are the agents connected to the call now.
	Agents []string
	// Queue is the queue the call came through or waits in.
	Queue string
	// Waiting tells whether the call waits in its queue.
	Waiting bool
	// Ended tells whether the call is over, and Cause why.
	Ended bool
	Cause string
	// Rang is, for each agent phone the call was offered to, the time
	// from its INVITE leaving the call center to its first 180 or 183
	// arriving, in the order they arrived.
	Rang []time.Duration
}

// PlaceCall starts a simulated customer calling queue: the call waits
// there for an agent like any other. caller is shown to the agent; data
// is the call data for the screen pop. It returns the call's ID.
func (cc *CallCenter) PlaceCall(queue, caller string, data map[string]string) (string, error) {
	if caller = printable(caller); caller == "" {
		caller = "customer"
	}
	port, err := cc.media.NewCustomer()
	if err != nil {
		return "", fmt.Errorf("callcenter: customer media: %w", err)
	}
	bridge := cc.media.NewBridge()
	var id string
	cc.update(func(af *after) {
		switch {
		case cc.closed:
			err = ErrClosed
		case cc.queues[queue] == nil:
			err = gateway.Errorf(gateway.CodeBadRequest, "no queue %q", queue)
		}
		if err != nil {
			af.do(func() { port.Close(); bridge.Close() })
			return
		}
		c := cc.newCall("inbound", caller, queue, maps.Clone(data), bridge)
		cc.addParty(c, &party{kind: partyCustomer, name: caller, port: port, connected: true})
		cc.stats.CallsReceived++
		cc.log.Info("callcenter: simulated call", "call", c.id, "queue", queue)
		cc.enqueue(c, queue, false, af)
		id = c.id
	})
	return id, err
}

// CustomerHangup hangs up the customer side of a call, as if the customer
// had hung up (a trunk customer gets a BYE).
func (cc *CallCenter) CustomerHangup(callID string) error {
	var err error
	cc.update(func(af *after) {
		c := cc.calls[callID]
		if c == nil {
			err = gateway.Errorf(gateway.CodeNoCall, "no call %q", callID)
			return
		}
		if !c.answered && c.hasCustomer() {
			cc.stats.CallsAbandoned++
		}
		for _, p := range c.parties {
			if p.kind == partyCustomer || p.kind == partyTrunkIn {
				cc.dropParty(p, af)
			}
		}
		cc.checkEnd(c, CauseCustomerHangup, af)
		cc.dispatch(af)
	})
	return err
}

// CallStats reports on a call, live or among the last thousand ended.
func (cc *CallCenter) CallStats(callID string) (CallStats, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if c := cc.calls[callID]; c != nil {
		return cc.callStats(c), true
	}
	s, ok := cc.history.stats[callID]
	return s, ok
}

// callStats builds c's report.
func (cc *CallCenter) callStats(c *call) CallStats {
	s := CallStats{DTMF: string(c.dtmf), Queue: c.queue, Waiting: c.waiting, Ended: c.ended, Cause: c.cause, Rang: slices.Clone(c.rang)}
	for _, p := range c.parties {
		if p.kind != partyCustomer && p.kind != partyTrunkIn {
			continue
		}
		if p.gone {
			s.Customer = p.final
		} else {
			s.Customer = p.port.Stats()
			s.Held = p.held
		}
	}
	for _, l := range c.legs {
		if l.state == legConnected {
			s.Agents = append(s.Agents, l.agent.id)
		}
	}
	return s
}
