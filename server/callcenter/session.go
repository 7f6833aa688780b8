package callcenter

import (
	"context"
	"slices"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// AgentSession is one agent's CTI session: what the proxy's local adapter
// holds for a signed-in agent. It implements gateway.Session.
type AgentSession struct {
	cc     *CallCenter
	agent  *agent
	sink   func(gateway.Event)
	events *serial
}

var _ gateway.Session = (*AgentSession)(nil)

// SignIn starts agent's session. Events go to sink in order, from one
// goroutine at a time; the first is the agent's state (not ready after a
// fresh sign-in). opts.Queues narrows the agent's configured queues;
// opts.Force takes over a session the agent already has, which is told so
// (session.notice, signed_in_elsewhere) and ends.
func (cc *CallCenter) SignIn(agentID string, opts gateway.SignInOptions, sink func(gateway.Event)) (*AgentSession, error) {
	if sink == nil {
		return nil, gateway.Errorf(gateway.CodeBadRequest, "no event sink")
	}
	var s *AgentSession
	var err error
	cc.update(func(af *after) {
		if cc.closed {
			err = gateway.Errorf(gateway.CodeUnavailable, "the call center is closed")
			return
		}
		a := cc.agents[agentID]
		if a == nil {
			err = gateway.Errorf(gateway.CodeUnknownAgent, "no agent %q", agentID)
			return
		}
		queues := a.queues
		if len(opts.Queues) > 0 {
			for _, q := range opts.Queues {
				if !slices.Contains(a.queues, q) {
					err = gateway.Errorf(gateway.CodeBadRequest, "agent %q is not in queue %q", agentID, q)
					return
				}
			}
			queues = opts.Queues
		}
		if a.sess != nil {
			if !opts.Force {
				err = gateway.Errorf(gateway.CodeSignedInElse, "agent %q is signed in elsewhere", agentID)
				return
			}
			cc.emit(a, gateway.Event{Type: gateway.EvNotice, Code: string(gateway.CodeSignedInElse), Message: "signed in elsewhere"})
		}
		s = &AgentSession{cc: cc, agent: a, sink: sink, events: newSerial(cc.spawn)}
		if a.sess != nil && a.state == gateway.StateReady {
			cc.countReady(a, false) // the queues joined may change
		}
		a.sess = s
		a.joined = slices.Clone(queues)
		if a.state == gateway.StateReady {
			cc.countReady(a, true)
		}
		if a.state == gateway.StateSignedOut {
			cc.setState(a, gateway.StateNotReady, "", af)
		} else {
			cc.emit(a, gateway.Event{Type: gateway.EvAgentState, State: a.state, Reason: a.reason, Deadline: a.deadline})
		}
		cc.log.Info("callcenter: agent signed in", "agent", agentID)
		cc.dispatch(af)
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Agent is the session's agent ID.
func (s *AgentSession) Agent() string { return s.agent.id }

// Do carries out one command. It returns nil once accepted; the outcome
// arrives as events. A command the agent's state does not allow returns a
// *gateway.Error (not_allowed, no_call, bad_request...) and changes nothing.
func (s *AgentSession) Do(ctx context.Context, cmd gateway.Command) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cc := s.cc
	var port Port
	if (cmd.Op == gateway.OpDial || cmd.Op == gateway.OpTransfer) && cmd.Target.Kind == gateway.TargetNumber && cc.cfg.TrunkOutbound == "" {
		p, err := cc.media.NewCustomer()
		if err != nil {
			return gateway.Errorf(gateway.CodeInternal, "media unavailable")
		}
		port = p
	}
	var err error
	cc.update(func(af *after) {
		switch {
		case cc.closed:
			err = gateway.Errorf(gateway.CodeUnavailable, "the call center is closed")
		case s.agent.sess != s:
			err = gateway.Errorf(gateway.CodeSessionLost, "the session has ended")
		default:
			err = cc.do(s.agent, cmd, &port, af)
		}
		if err == nil {
			cc.dispatch(af)
		}
		if port != nil {
			p := port
			af.do(func() { p.Close() })
		}
	})
	return err
}

// Snapshot is the agent's current state and calls.
func (s *AgentSession) Snapshot(ctx context.Context) (gateway.Snapshot, error) {
	s.cc.mu.Lock()
	defer s.cc.mu.Unlock()
	if s.agent.sess != s {
		return gateway.Snapshot{State: gateway.StateSignedOut}, gateway.Errorf(gateway.CodeSessionLost, "the session has ended")
	}
	return s.cc.snapshot(s.agent), nil
}

// Close signs the agent out: its calls are hung up and the session ends.
func (s *AgentSession) Close(ctx context.Context) error {
	cc := s.cc
	cc.update(func(af *after) {
		a := s.agent
		if a.sess != s {
			return
		}
		for _, l := range append([]*leg(nil), a.legs...) {
			cc.endLeg(l, CauseSignedOut, af)
		}
		cc.setState(a, gateway.StateSignedOut, "", af)
		a.sess = nil
		a.joined = nil
		cc.log.Info("callcenter: agent signed out", "agent", a.id)
		cc.dispatch(af)
	})
	return nil
}
