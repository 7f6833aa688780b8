package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/agentbar/agentbar/proxy/control/wire"
	"github.com/agentbar/agentbar/proxy/gateway"
)

// EventLog is the per-agent sequenced log the hub appends events to and
// replays from (proxy/eventlog on NATS JetStream).
type EventLog interface {
	Append(ctx context.Context, agent string, event []byte) (uint64, error)
	Subscribe(ctx context.Context, agent string, after uint64, fn func(seq uint64, event []byte)) (stop func(), err error)
	LastSeq(ctx context.Context, agent string) (uint64, error)
}

// Metrics receives what the hub counts; nil counts nothing.
type Metrics interface {
	Command(op, result string)
	EventRelayed(latency time.Duration)
	Sessions(delta int)
}

// Config configures a Hub.
type Config struct {
	Gateway gateway.Gateway
	Log     EventLog
	// Verify checks a JWT and returns the agent it names and its expiry.
	Verify func(token string) (agent string, expires time.Time, err error)
	// AllowedOrigins are the exact origins (scheme://host[:port]) that may
	// open the channel; empty allows only the proxy's own host.
	AllowedOrigins []string
	// Renew mints a fresh token for the session of a valid one, without
	// the password (renew_token); nil refuses renewals. A *gateway.Error
	// it returns reaches the bar as is; any other error as unauthorized.
	Renew func(token string) (fresh string, expires time.Time, err error)
	// SIPCredentials hands the page short-lived credentials for its soft phone.
	SIPCredentials func(agent string) (wire.SIPCredentials, error)
	// MaxMessage bounds one client message; default 16 KiB.
	MaxMessage int64
	// AuthTimeout bounds the wait for the first message; default 10 s.
	AuthTimeout time.Duration
	// CommandTimeout bounds one command at the gateway; default 15 s.
	CommandTimeout time.Duration
	// TokenWarning is how long before expiry the bar is told to refresh; default 60 s.
	TokenWarning time.Duration
	Logger       *slog.Logger
	Metrics      Metrics
}

// Hub owns the agents' gateway sessions and serves their control channels.
type Hub struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context // ends every channel on Close
	cancel context.CancelFunc

	mu       sync.Mutex
	sessions map[string]gateway.Session
}

// NewHub checks cfg and returns a Hub.
func NewHub(cfg Config) (*Hub, error) {
	if cfg.Gateway == nil || cfg.Log == nil || cfg.Verify == nil {
		return nil, errors.New("control: Gateway, Log and Verify are required")
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = 16 << 10
	}
	if cfg.AuthTimeout <= 0 {
		cfg.AuthTimeout = 10 * time.Second
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = 15 * time.Second
	}
	if cfg.TokenWarning <= 0 {
		cfg.TokenWarning = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel, sessions: map[string]gateway.Session{}}, nil
}

type noMetrics struct{}

func (noMetrics) Command(string, string)     {}
func (noMetrics) EventRelayed(time.Duration) {}
func (noMetrics) Sessions(int)               {}

// Sessions is the number of signed-in agents.
func (h *Hub) Sessions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}

// Close closes every control channel and signs every agent out.
func (h *Hub) Close(ctx context.Context) {
	h.cancel()
	h.mu.Lock()
	sessions := h.sessions
	h.sessions = map[string]gateway.Session{}
	h.mu.Unlock()
	for agent, s := range sessions {
		if err := s.Close(ctx); err != nil {
			h.log.Warn("control: sign-out on shutdown failed", "agent", agent, "err", err)
		}
		h.cfg.Metrics.Sessions(-1)
	}
}

// OriginAllowed applies the Origin policy: an exact match in allowed, or,
// when allowed is empty, the request's own host. A request without Origin
// (not a browser) is allowed only when the list is empty.
func OriginAllowed(r *http.Request, allowed []string) bool {
	origin := r.Header.Get("Origin")
	if len(allowed) == 0 {
		if origin == "" {
			return true
		}
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
	for _, a := range allowed {
		if origin == a {
			return true
		}
	}
	return false
}

// session returns the agent's gateway session, if signed in.
func (h *Hub) session(agent string) gateway.Session {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sessions[agent]
}

// signIn starts the agent's gateway session; signing in twice is a no-op.
func (h *Hub) signIn(ctx context.Context, agent string, force bool) error {
	h.mu.Lock()
	_, ok := h.sessions[agent]
	h.mu.Unlock()
	if ok {
		return nil
	}
	sink := func(ev gateway.Event) { h.record(agent, ev) }
	s, err := h.cfg.Gateway.SignIn(ctx, agent, gateway.SignInOptions{Force: force, Phone: agent}, sink)
	if err != nil {
		return err
	}
	h.mu.Lock()
	if _, dup := h.sessions[agent]; dup {
		h.mu.Unlock()
		s.Close(ctx) // lost a race with another connection of the same agent
		return nil
	}
	h.sessions[agent] = s
	h.mu.Unlock()
	h.cfg.Metrics.Sessions(1)
	h.log.Info("control: agent signed in", "agent", agent)
	return nil
}

// signOut ends the agent's gateway session.
func (h *Hub) signOut(ctx context.Context, agent string) error {
	h.mu.Lock()
	s := h.sessions[agent]
	delete(h.sessions, agent)
	h.mu.Unlock()
	if s == nil {
		return nil
	}
	h.cfg.Metrics.Sessions(-1)
	h.log.Info("control: agent signed out", "agent", agent)
	return s.Close(ctx)
}

// record appends one gateway event to the agent's log. A forced sign-out
// from the vendor also drops the session.
func (h *Hub) record(agent string, ev gateway.Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	b, err := json.Marshal(ev)
	if err != nil {
		h.log.Error("control: event not encodable", "agent", agent, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.cfg.Log.Append(ctx, agent, b); err != nil {
		h.log.Error("control: event not logged", "agent", agent, "type", ev.Type, "err", err)
	}
	if ev.Type == gateway.EvAgentState && ev.State == gateway.StateSignedOut {
		h.mu.Lock()
		s := h.sessions[agent]
		delete(h.sessions, agent)
		h.mu.Unlock()
		if s != nil {
			h.cfg.Metrics.Sessions(-1)
		}
	}
}

// command maps a client command to the gateway.
func (h *Hub) command(ctx context.Context, agent string, m *wire.ClientMessage) (*wire.ServerMessage, error) {
	switch m.Op {
	case wire.OpSignIn:
		return nil, h.signIn(ctx, agent, m.Force)
	case wire.OpSignOut:
		return nil, h.signOut(ctx, agent)
	case wire.OpGetState:
		snap := gateway.Snapshot{State: gateway.StateSignedOut}
		if s := h.session(agent); s != nil {
			var err error
			if snap, err = s.Snapshot(ctx); err != nil {
				return nil, err
			}
		}
		return &wire.ServerMessage{Snapshot: &snap}, nil
	case wire.OpGetStats:
		s := h.session(agent)
		if s == nil {
			return nil, &gateway.Error{Code: wire.CodeNotSignedIn, Message: "sign in first"}
		}
		src, ok := s.(gateway.StatsSource)
		if !ok {
			return nil, gateway.Errorf(gateway.CodeUnsupported, "this call center reports no statistics")
		}
		st, err := src.Stats(ctx)
		if err != nil {
			return nil, err
		}
		return &wire.ServerMessage{Stats: &st}, nil
	case wire.OpSIPCredentials:
		if h.cfg.SIPCredentials == nil {
			return nil, gateway.Errorf(gateway.CodeUnsupported, "this proxy hands out no SIP credentials")
		}
		cr, err := h.cfg.SIPCredentials(agent)
		if err != nil {
			return nil, err
		}
		return &wire.ServerMessage{SIP: &cr}, nil
	}
	cmd, err := toCommand(m)
	if err != nil {
		return nil, err
	}
	s := h.session(agent)
	if s == nil {
		return nil, &gateway.Error{Code: wire.CodeNotSignedIn, Message: "sign in first"}
	}
	return nil, s.Do(ctx, cmd)
}

// toCommand checks a client command's fields and builds the gateway command.
func toCommand(m *wire.ClientMessage) (gateway.Command, error) {
	cmd := gateway.Command{Op: gateway.Op(m.Op), CallID: m.CallID, Reason: m.Reason, Digits: m.Digits, Duration: time.Duration(m.Seconds) * time.Second}
	need := func(ok bool, what string) error {
		if !ok {
			return gateway.Errorf(gateway.CodeBadRequest, "%s needs %s", m.Op, what)
		}
		return nil
	}
	switch cmd.Op {
	case gateway.OpReady, gateway.OpWrapUpDone, gateway.OpAnswer, gateway.OpReject, gateway.OpHangup,
		gateway.OpHold, gateway.OpResume, gateway.OpMute, gateway.OpUnmute,
		gateway.OpCompleteTransfer, gateway.OpCancelConsult, gateway.OpConference, gateway.OpReconnectMedia:
		return cmd, nil
	case gateway.OpNotReady, gateway.OpRest:
		return cmd, need(m.Reason != "", "a reason")
	case gateway.OpDTMF:
		return cmd, need(wire.ValidDigits(m.Digits), "digits (0-9, *, #, A-D)")
	case gateway.OpDial, gateway.OpTransfer, gateway.OpConsult:
		if err := need(m.Target != nil && m.Target.ID != "", "a target"); err != nil {
			return cmd, err
		}
		switch m.Target.Kind {
		case gateway.TargetAgent, gateway.TargetQueue, gateway.TargetNumber:
		default:
			return cmd, gateway.Errorf(gateway.CodeBadRequest, "target kind must be agent, queue or number")
		}
		cmd.Target = *m.Target
		return cmd, nil
	}
	return cmd, &gateway.Error{Code: wire.CodeUnknownCommand, Message: fmt.Sprintf("unknown command %q", m.Op)}
}
