package callcenter

import (
	"context"
	"slices"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// agent is one configured agent, signed in or not.
type agent struct {
	id, name  string
	queues    []string // configured queues
	joined    []string // queues of the current session
	wrapUp    time.Duration
	sess      *AgentSession // nil while signed out
	state     gateway.AgentState
	reason    string
	deadline  time.Time // end of wrap-up
	idleSince time.Time // when the agent last became ready: the ACD's order
	timer     *time.Timer
	timerGen  int
	legs      []*leg
	bindings  []*binding
	day       agentDay
}

// stopTimer cancels a pending wrap-up end.
func (a *agent) stopTimer() {
	a.timerGen++
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
}

// joinedQueue tells whether the signed-in agent takes calls of queue q.
func (a *agent) joinedQueue(q string) bool { return slices.Contains(a.joined, q) }

// savedState is an agent state to come back to when an offer is withdrawn.
type savedState struct {
	state     gateway.AgentState
	reason    string
	deadline  time.Time
	idleSince time.Time
}

func (a *agent) save() savedState {
	return savedState{state: a.state, reason: a.reason, deadline: a.deadline, idleSince: a.idleSince}
}

// queue holds calls waiting for an agent, first come first served.
type queue struct {
	id, name string
	waiting  []*call
	ready    int // signed-in agents of the queue who are ready (see countReady)
}

// call is one conversation: external parties and agent legs in one bridge.
type call struct {
	id         string
	created    time.Time
	direction  string // inbound: a customer called; outbound: an agent dialled
	caller     string
	callee     string
	queue      string // the queue it came through, or is waiting in
	data       map[string]string
	bridge     Bridge
	rang       []time.Duration // INVITE to the first 18x of each agent leg (CallStats.Rang)
	parties    []*party        // external parties (customers, numbers)
	legs       []*leg          // agent legs, ringing or connected
	target     *gateway.Target
	numberPort Port // a simulated party made ready for a dial to a number
	waiting    bool
	enqueued   time.Time
	consult    *leg // the leg of a consult under way
	consultBy  *leg // the leg that started it
	conference bool
	answered   bool // an agent has answered it
	dialerTold bool // the dialler was told the far end answered
	dtmf       []rune
	ended      bool
	cause      string
}

// liveParties counts the external parties still on the call.
func (c *call) liveParties() int {
	n := 0
	for _, p := range c.parties {
		if !p.gone {
			n++
		}
	}
	return n
}

// connectedLegs counts the answered agent legs.
func (c *call) connectedLegs() int {
	n := 0
	for _, l := range c.legs {
		if l.state == legConnected {
			n++
		}
	}
	return n
}

// hasCustomer tells whether a customer (not a dialled number) is on the call.
func (c *call) hasCustomer() bool {
	for _, p := range c.parties {
		if p.kind == partyCustomer || p.kind == partyTrunkIn {
			return true
		}
	}
	return false
}

// partyKind says what an external party is.
type partyKind int

const (
	partyCustomer partyKind = iota + 1 // a simulated customer (PlaceCall)
	partyTrunkIn                       // a customer who dialled in on the trunk
	partyNumber                        // a simulated number an agent reached
	partyTrunkOut                      // a number reached over the trunk
)

// party is an external party of a call.
type party struct {
	call      *call
	kind      partyKind
	name      string
	port      Port
	trunk     TrunkLeg   // trunk parties
	in        *inDialog  // partyTrunkIn
	out       *outDialog // partyTrunkOut, once sent
	sipID     string
	offerless bool               // partyTrunkIn: our 200 carries the offer, the ACK the answer
	cancel    context.CancelFunc // partyTrunkOut: abandon the INVITE
	connected bool               // answered (or told to answer)
	inBridge  bool
	held      bool
	gone      bool
	signal    chan struct{} // partyTrunkIn: closed when its INVITE is to be answered or refused
	signaled  bool
	final     PortStats // what its port measured, once gone
}

// notify closes the party's signal once.
func (p *party) notify() {
	if p.signal != nil && !p.signaled {
		p.signaled = true
		close(p.signal)
	}
}

// legRole says why an agent leg exists.
type legRole int

const (
	roleHandler legRole = iota + 1 // the agent handles the call (ACD offer, transfer, dial target)
	roleDialer                     // the agent placed the call
	roleConsult                    // the agent was consulted
)

// legState is where an agent leg stands.
type legState int

const (
	legRinging legState = iota + 1
	legConnected
	legEnded
)

// leg is one agent on one call: a SIP dialog from the B2BUA to the phone.
type leg struct {
	call       *call
	agent      *agent
	role       legRole
	dir        string // inbound or outbound, as the agent sees the call
	fromQueue  bool   // offered by the ACD: a refusal puts the call back
	sipID      string // Call-ID of the dialog with the phone
	media      AgentLeg
	dlg        *outDialog
	state      legState
	held       bool // the agent put the call on hold
	bridgeHeld bool // the bridge holds this leg (the other agent holds)
	muted      bool
	byPhone    bool // the phone hung up: no BYE to send
	since      time.Time
	offered    time.Time // when the phone was offered the call
	announced  bool      // the agent heard of the call (announce)
	prev       savedState
	ringTimer  *time.Timer
	cancelRing context.CancelFunc
	ops        *serial // SIP requests to the phone, in order
	reconnect  bool    // a reconnect_media INVITE is under way
}

// history keeps the stats of the last ended calls.
type history struct {
	max   int
	order []string
	stats map[string]CallStats
}

func newHistory(max int) *history { return &history{max: max, stats: map[string]CallStats{}} }

func (h *history) add(id string, s CallStats) {
	if _, ok := h.stats[id]; !ok {
		h.order = append(h.order, id)
	}
	h.stats[id] = s
	for len(h.order) > h.max {
		delete(h.stats, h.order[0])
		h.order = h.order[1:]
	}
}

// remove deletes the first occurrence of x from s.
func remove[T comparable](s []T, x T) []T {
	if i := slices.Index(s, x); i >= 0 {
		return slices.Delete(s, i, i+1)
	}
	return s
}
