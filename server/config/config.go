// Package config reads the agentbar server's configuration: one YAML file,
// then environment overrides (AGENTBAR_*), then defaults that run the demo.
// Secrets may come from the environment so they stay out of files.
package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole server configuration.
type Config struct {
	// Listen is the HTTP address; default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// PublicURL is how browsers reach the server (for SIP edge URLs handed
	// to the page); default http://<listen>.
	PublicURL string `yaml:"public_url"`
	// AllowedOrigins may open WebSockets; empty = the server's own origin.
	AllowedOrigins []string   `yaml:"allowed_origins"`
	Auth           Auth       `yaml:"auth"`
	SIP            SIP        `yaml:"sip"`
	Bus            Bus        `yaml:"bus"`
	CallCenter     CallCenter `yaml:"callcenter"`
}

// Auth configures JWTs.
type Auth struct {
	Issuer   string `yaml:"issuer"`   // default "agentbar"
	Audience string `yaml:"audience"` // default "agentbar"
	// HMACKey (HS256, at least 32 bytes) signs our own tokens and verifies
	// CRM-minted HS256 ones. Empty: a random key per process start.
	HMACKey string `yaml:"hmac_key"`
	// PublicKeyFile is a PEM Ed25519 or RSA public key for CRM-minted tokens.
	PublicKeyFile string        `yaml:"public_key_file"`
	TokenTTL      time.Duration `yaml:"token_ttl"`    // our tokens; default 1h
	MaxLifetime   time.Duration `yaml:"max_lifetime"` // any token; default 12h
}

// SIP configures the SIP edge and the page's credentials.
type SIP struct {
	// Secret keys the ephemeral SIP credentials (HMAC-SHA1, Kamailio
	// auth_ephemeral style). Empty: random per process start.
	Secret         string        `yaml:"secret"`
	CredentialsTTL time.Duration `yaml:"credentials_ttl"` // default 12h
	// Upstream is where the edge relays the page's SIP; empty = the built-in registrar.
	Upstream string `yaml:"upstream"`
}

// Bus configures the event log.
type Bus struct {
	URL      string `yaml:"url"`       // external NATS; empty = embedded
	StoreDir string `yaml:"store_dir"` // embedded JetStream storage; default ./data/events
}

// CallCenter configures the built-in call center.
type CallCenter struct {
	Enabled     *bool         `yaml:"enabled"`      // default true
	AgentListen string        `yaml:"agent_listen"` // registrar for agent phones; default 127.0.0.1:5080
	TrunkListen string        `yaml:"trunk_listen"` // SIP trunk for customers; default 127.0.0.1:5070
	Domain      string        `yaml:"domain"`       // default agentbar.local
	MediaIP     string        `yaml:"media_ip"`     // default 127.0.0.1
	WrapUp      time.Duration `yaml:"wrap_up"`      // default 30s
	RingTimeout time.Duration `yaml:"ring_timeout"` // default 20s
	Queues      []Queue       `yaml:"queues"`
	Agents      []Agent       `yaml:"agents"`
	Reasons     []Reason      `yaml:"reasons"`
}

// Queue is an ACD queue.
type Queue struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
}

// Agent is one agent of the directory.
type Agent struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// PasswordHash is a bcrypt hash of the sign-in password; Password is a
	// plain one, for the demo only.
	PasswordHash string   `yaml:"password_hash"`
	Password     string   `yaml:"password"`
	Queues       []string `yaml:"queues"`
}

// Reason is a not-ready or rest reason code.
type Reason struct {
	Code  string `yaml:"code"`
	Label string `yaml:"label"`
	Rest  bool   `yaml:"rest"`
}

// Load reads path (if not empty), applies the environment and defaults, and
// checks the result.
func Load(path string, env func(string) string) (*Config, error) {
	var c Config
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	c.applyEnv(env)
	c.applyDefaults()
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// applyEnv lets AGENTBAR_* variables override the file.
func (c *Config) applyEnv(env func(string) string) {
	set := func(dst *string, name string) {
		if v := env(name); v != "" {
			*dst = v
		}
	}
	set(&c.Listen, "AGENTBAR_LISTEN")
	set(&c.PublicURL, "AGENTBAR_PUBLIC_URL")
	set(&c.Auth.HMACKey, "AGENTBAR_AUTH_HMAC_KEY")
	set(&c.Auth.PublicKeyFile, "AGENTBAR_AUTH_PUBLIC_KEY_FILE")
	set(&c.SIP.Secret, "AGENTBAR_SIP_SECRET")
	set(&c.SIP.Upstream, "AGENTBAR_SIP_UPSTREAM")
	set(&c.Bus.URL, "AGENTBAR_BUS_URL")
	set(&c.Bus.StoreDir, "AGENTBAR_BUS_STORE_DIR")
	set(&c.CallCenter.AgentListen, "AGENTBAR_CALLCENTER_AGENT_LISTEN")
	set(&c.CallCenter.TrunkListen, "AGENTBAR_CALLCENTER_TRUNK_LISTEN")
	if v := env("AGENTBAR_ALLOWED_ORIGINS"); v != "" {
		c.AllowedOrigins = strings.Split(v, ",")
	}
}

func (c *Config) applyDefaults() {
	def := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	defD := func(dst *time.Duration, v time.Duration) {
		if *dst == 0 {
			*dst = v
		}
	}
	def(&c.Listen, "127.0.0.1:8080")
	def(&c.PublicURL, "http://"+c.Listen)
	def(&c.Auth.Issuer, "agentbar")
	def(&c.Auth.Audience, "agentbar")
	defD(&c.Auth.TokenTTL, time.Hour)
	defD(&c.Auth.MaxLifetime, 12*time.Hour)
	defD(&c.SIP.CredentialsTTL, 12*time.Hour)
	def(&c.Bus.StoreDir, "data/events")
	cc := &c.CallCenter
	if cc.Enabled == nil {
		on := true
		cc.Enabled = &on
	}
	def(&cc.AgentListen, "127.0.0.1:5080")
	def(&cc.TrunkListen, "127.0.0.1:5070")
	def(&cc.Domain, "agentbar.local")
	def(&cc.MediaIP, "127.0.0.1")
	defD(&cc.WrapUp, 30*time.Second)
	defD(&cc.RingTimeout, 20*time.Second)
}

func (c *Config) check() error {
	var errs []error
	if k := c.Auth.HMACKey; k != "" && len(k) < 32 {
		errs = append(errs, errors.New("auth.hmac_key must be at least 32 bytes"))
	}
	if c.Auth.TokenTTL > c.Auth.MaxLifetime {
		errs = append(errs, errors.New("auth.token_ttl must not exceed auth.max_lifetime"))
	}
	seen := map[string]bool{}
	for _, a := range c.CallCenter.Agents {
		if a.ID == "" || seen[a.ID] {
			errs = append(errs, fmt.Errorf("callcenter.agents: empty or duplicate id %q", a.ID))
		}
		seen[a.ID] = true
		if a.Password == "" && a.PasswordHash == "" {
			errs = append(errs, fmt.Errorf("callcenter.agents: %s has no password", a.ID))
		}
	}
	return errors.Join(errs...)
}
