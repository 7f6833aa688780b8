package callcenter

import (
	"context"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// agentDay counts one agent's calls since the call center started.
type agentDay struct {
	answered, missed, outbound int
	talk                       time.Duration // ended calls; the current one is added when read
}

// QueueFigures are one queue's live figures.
type QueueFigures struct {
	ID, Name    string
	Waiting     int           // callers waiting now
	LongestWait time.Duration // how long the oldest of them has waited
	Ready       int           // signed-in agents of the queue who are ready
}

// AgentFigures are one agent's calls since the call center started.
type AgentFigures struct {
	Answered int           // calls the agent answered (consultations included)
	Missed   int           // offers that rang out or failed
	Outbound int           // calls the agent placed
	TalkTime time.Duration // time connected, the current call included
}

// QueueFigures returns the figures of the named queues (all queues when
// none is named), in the order asked; unknown ids are skipped.
func (cc *CallCenter) QueueFigures(ids ...string) []QueueFigures {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if len(ids) == 0 {
		for _, q := range cc.cfg.Queues {
			ids = append(ids, q.ID)
		}
	}
	now := cc.now()
	var out []QueueFigures
	for _, id := range ids {
		q := cc.queues[id]
		if q == nil {
			continue
		}
		f := QueueFigures{ID: q.id, Name: q.name, Waiting: len(q.waiting), Ready: q.ready}
		for _, c := range q.waiting {
			f.LongestWait = max(f.LongestWait, now.Sub(c.created))
		}
		out = append(out, f)
	}
	return out
}

// AgentFigures returns the agent's figures; false for an unknown agent.
func (cc *CallCenter) AgentFigures(agent string) (AgentFigures, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	a := cc.agents[agent]
	if a == nil {
		return AgentFigures{}, false
	}
	return cc.figures(a), true
}

// figures reads a's day; the caller holds cc.mu.
func (cc *CallCenter) figures(a *agent) AgentFigures {
	f := AgentFigures{Answered: a.day.answered, Missed: a.day.missed, Outbound: a.day.outbound, TalkTime: a.day.talk}
	for _, l := range a.legs {
		if l.state == legConnected {
			f.TalkTime += cc.now().Sub(l.since)
		}
	}
	return f
}

// Stats reports the waiting callers of the agent's queues and the agent's
// own calls (gateway.StatsSource).
func (s *AgentSession) Stats(ctx context.Context) (gateway.Stats, error) {
	cc := s.cc
	cc.mu.Lock()
	if s.agent.sess != s {
		cc.mu.Unlock()
		return gateway.Stats{}, gateway.Errorf(gateway.CodeSessionLost, "the session has ended")
	}
	joined := append([]string(nil), s.agent.joined...)
	f := cc.figures(s.agent)
	now := cc.now()
	cc.mu.Unlock()
	st := gateway.Stats{Time: now, Agent: &gateway.AgentStats{
		Answered: f.Answered, Missed: f.Missed, Outbound: f.Outbound, TalkTime: int(f.TalkTime / time.Second),
	}}
	if len(joined) == 0 {
		return st, nil
	}
	for _, q := range cc.QueueFigures(joined...) {
		st.Queues = append(st.Queues, gateway.QueueStats{ID: q.ID, Name: q.Name, Waiting: q.Waiting, LongestWait: int(q.LongestWait / time.Second), Ready: q.Ready})
	}
	return st, nil
}

var _ gateway.StatsSource = (*AgentSession)(nil)
