package callcenter

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// Config configures a CallCenter. The zero value, with at least one queue
// and one agent, runs the demo on loopback.
type Config struct {
	// SIPListen is where agents' phones register and are called, over UDP
	// and TCP on the same port. Default 127.0.0.1:5080; port 0 picks one.
	SIPListen string `yaml:"sip_listen"`
	// WSListen, if set, also takes SIP over WebSocket (RFC 7118) for agents'
	// phones, so that a soft phone can register without the proxy's edge.
	WSListen string `yaml:"ws_listen"`
	// TrunkListen is where customers dial a queue (sip:<queue>@host:port),
	// over UDP and TCP. Default 127.0.0.1:5070; "off" disables the trunk.
	TrunkListen string `yaml:"trunk_listen"`
	// TrunkOutbound, if set (host:port), is where calls to numbers go as SIP
	// (sip:<number>@TrunkOutbound over UDP); otherwise a number reaches a
	// simulated party that answers at once.
	TrunkOutbound string `yaml:"trunk_outbound"`
	// Domain is the SIP domain and digest realm. Default "agentbar.local".
	Domain string `yaml:"domain"`

	// Agents and Queues are the call center's people and queues.
	Agents []AgentConfig `yaml:"agents"`
	Queues []QueueConfig `yaml:"queues"`
	// Reasons lists the not-ready and rest reason codes agents may pick;
	// a default set is used when empty. "rejected" and "missed" are the
	// system's own not-ready reasons.
	Reasons []gateway.Reason `yaml:"reasons"`

	// WrapUp is the default after-call work time, after which the agent is
	// ready again. Default 30 s; negative means no wrap-up.
	WrapUp time.Duration `yaml:"wrap_up"`
	// RingTimeout is how long an agent's phone may ring before the call is
	// taken back (the agent goes not ready, "missed"). Default 20 s.
	RingTimeout time.Duration `yaml:"ring_timeout"`
	// MinExpires and MaxExpires bound registrations; defaults 60 s and 1 h.
	MinExpires time.Duration `yaml:"min_expires"`
	MaxExpires time.Duration `yaml:"max_expires"`

	// SIPPassword returns the password for a digest username. The username
	// is the agent ID or "<unix expiry>:<agent ID>" (ephemeral credentials);
	// an expired one is refused before the hook is asked. A nil hook turns
	// authentication off: only for loopback demos.
	SIPPassword func(username string) (password string, ok bool) `yaml:"-"`
	// Media makes the media of calls; default NewFakeMedia().
	Media MediaFactory `yaml:"-"`
	// Clock is the time source for events and deadlines; default time.Now.
	Clock func() time.Time `yaml:"-"`
	// Logger receives structured logs; default discards. Passwords and
	// digest responses are never logged.
	Logger *slog.Logger `yaml:"-"`
}

// AgentConfig is one agent.
type AgentConfig struct {
	ID     string   `yaml:"id"`
	Name   string   `yaml:"name"`
	Queues []string `yaml:"queues"`
	// WrapUp overrides Config.WrapUp for this agent when non-zero.
	WrapUp time.Duration `yaml:"wrap_up"`
}

// QueueConfig is one queue; its ID is what a trunk caller dials.
type QueueConfig struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
}

// Reason codes the call center sets by itself.
const (
	ReasonRejected = "rejected" // the agent refused an offered call
	ReasonMissed   = "missed"   // the agent's phone did not answer in time
)

// defaultReasons are offered when Config.Reasons is empty.
func defaultReasons() []gateway.Reason {
	return []gateway.Reason{
		{Code: "meeting", Label: "Meeting"},
		{Code: "training", Label: "Training"},
		{Code: "admin", Label: "Admin work"},
		{Code: "break", Label: "Short break", Rest: true},
		{Code: "lunch", Label: "Lunch", Rest: true},
	}
}

// withDefaults fills in defaults and checks the configuration.
func (c Config) withDefaults() (Config, error) {
	if c.SIPListen == "" {
		c.SIPListen = "127.0.0.1:5080"
	}
	if c.TrunkListen == "" {
		c.TrunkListen = "127.0.0.1:5070"
	}
	if c.Domain == "" {
		c.Domain = "agentbar.local"
	}
	if len(c.Reasons) == 0 {
		c.Reasons = defaultReasons()
	}
	if c.WrapUp == 0 {
		c.WrapUp = 30 * time.Second
	}
	if c.RingTimeout <= 0 {
		c.RingTimeout = 20 * time.Second
	}
	if c.MinExpires <= 0 {
		c.MinExpires = time.Minute
	}
	if c.MaxExpires <= 0 {
		c.MaxExpires = time.Hour
	}
	if c.TrunkOutbound != "" && c.TrunkListen == "off" {
		return c, errors.New("callcenter: TrunkOutbound needs the trunk (TrunkListen)")
	}
	if c.TrunkOutbound != "" {
		if _, _, err := net.SplitHostPort(c.TrunkOutbound); err != nil {
			return c, fmt.Errorf("callcenter: TrunkOutbound: %w", err)
		}
	}
	if c.MaxExpires < c.MinExpires {
		return c, errors.New("callcenter: MaxExpires below MinExpires")
	}
	if c.Media == nil {
		c.Media = NewFakeMedia()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	queues := map[string]bool{}
	for _, q := range c.Queues {
		if !validID(q.ID) {
			return c, fmt.Errorf("callcenter: invalid queue ID %q", q.ID)
		}
		if queues[q.ID] {
			return c, fmt.Errorf("callcenter: queue %q configured twice", q.ID)
		}
		queues[q.ID] = true
	}
	agents := map[string]bool{}
	for _, a := range c.Agents {
		if !validID(a.ID) {
			return c, fmt.Errorf("callcenter: invalid agent ID %q", a.ID)
		}
		if agents[a.ID] || queues[a.ID] {
			return c, fmt.Errorf("callcenter: ID %q used twice", a.ID)
		}
		agents[a.ID] = true
		for _, q := range a.Queues {
			if !queues[q] {
				return c, fmt.Errorf("callcenter: agent %q joins unknown queue %q", a.ID, q)
			}
		}
	}
	return c, nil
}

// printable drops control characters and quotes from s, so that a caller
// name can go into a SIP header or a display name as it is.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}

// validID tells whether s can be an agent or queue ID: it must fit in the
// user part of a SIP URI without escaping.
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '-' || r == '_' || r == '.' || r == '+':
		default:
			return false
		}
	}
	return true
}
