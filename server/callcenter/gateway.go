package callcenter

import (
	"context"
	"slices"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// Gateway presents the call center as a gateway.Gateway: what the proxy's
// local adapter needs, with nothing to translate.
func (cc *CallCenter) Gateway() gateway.Gateway { return localGateway{cc} }

type localGateway struct{ cc *CallCenter }

var _ gateway.Gateway = localGateway{}

// SignIn implements gateway.Gateway.
func (g localGateway) SignIn(_ context.Context, agent string, opts gateway.SignInOptions, sink func(gateway.Event)) (gateway.Session, error) {
	s, err := g.cc.SignIn(agent, opts, sink)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Ready implements gateway.Gateway: ready until Close.
func (g localGateway) Ready(context.Context) error {
	g.cc.mu.Lock()
	defer g.cc.mu.Unlock()
	if g.cc.closed {
		return gateway.Errorf(gateway.CodeUnavailable, "the call center is closed")
	}
	return nil
}

// Reasons implements gateway.Gateway.
func (g localGateway) Reasons() []gateway.Reason { return slices.Clone(g.cc.cfg.Reasons) }
