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
	Gateway        Gateway    `yaml:"gateway"`
}

// Gateway kinds.
const (
	GatewayLocal  = "local"  // the built-in call center directly
	GatewayHuawei = "huawei" // the Huawei CEC adapter (CC-Gateway, or its emulator)
)

// Gateway selects the contact center the proxy drives.
type Gateway struct {
	// Kind is "local" (default) or "huawei" (env AGENTBAR_GATEWAY).
	Kind   string `yaml:"kind"`
	Huawei Huawei `yaml:"huawei"`
}

// Huawei configures the Huawei CEC adapter.
type Huawei struct {
	// BaseURL is the CC-Gateway, e.g. https://cc-gw.example.com:8043 (env
	// AGENTBAR_HUAWEI_BASE_URL). Empty: demo mode, the built-in emulator
	// in front of the built-in call center on its own loopback listener.
	BaseURL string `yaml:"base_url"`
	// CAFile is a PEM bundle trusted for the CC-Gateway's (and CMS's)
	// certificate, besides the system roots.
	CAFile string `yaml:"ca_file"`
	// InsecureSkipVerify turns certificate checks off (lab use only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// Agents maps the bar's agent id to the CTI account. In demo mode an
	// agent of the call center that is not listed gets work_no = its id, a
	// random password for this run and phone = its id.
	Agents map[string]HuaweiAgent `yaml:"agents"`
	// Reasons are the not-ready (200-250) and rest (0-255) reason codes of
	// the contact center. Demo mode: the call center's reasons, numbered.
	Reasons []Reason `yaml:"reasons"`
	// ManualAnswer (default true): calls ring until the agent answers.
	ManualAnswer *bool `yaml:"manual_answer"`
	// WrapUp (default true): calls end in wrap-up, not ready.
	WrapUp *bool `yaml:"wrap_up"`
	// CallDataTimeout bounds how long a new inbound call's first event
	// waits for the call's data (calldata callinfobycallid, for the
	// screen pop); default 2s, negative: do not read it.
	CallDataTimeout time.Duration `yaml:"call_data_timeout"`
	// Events is how CC-Gateway delivers agent events (env
	// AGENTBAR_HUAWEI_EVENTS): "poll" (default, the agentevent long poll)
	// or "push" (CC-Gateway POSTs them to Push.CallbackURL; heartbeats).
	Events string     `yaml:"events"`
	Push   HuaweiPush `yaml:"push"`
	Poll   HuaweiPoll `yaml:"poll"`
	// CMS is the optional CC-CMS account for statistics (AK/SK signed).
	CMS  HuaweiCMS  `yaml:"cms"`
	Demo HuaweiDemo `yaml:"demo"`
}

// HuaweiAgent is one agent's CTI account. The password can come from
// AGENTBAR_HUAWEI_PASSWORD_<ID> (the id upper-cased, other than letters
// and digits as _).
type HuaweiAgent struct {
	WorkNo   string `yaml:"work_no"`
	Password string `yaml:"password"`
	Phone    string `yaml:"phone"` // bound at sign-in; empty = the agent id
}

// Huawei event delivery modes.
const (
	HuaweiPollEvents = "poll"
	HuaweiPushEvents = "push"
)

// HuaweiPush configures push mode.
type HuaweiPush struct {
	// CallbackURL is the address CC-Gateway POSTs events to (at most 200
	// characters); empty = public_url + /v1/huawei/agentevent/pushresult.
	// Demo mode: ignored (the emulator pushes to the proxy over loopback).
	CallbackURL string        `yaml:"callback_url"`
	Heartbeat   time.Duration `yaml:"heartbeat"` // default 30s, below CC-Gateway's 2-minute limit
}

// HuaweiPoll overrides the adapter's timers (zero = its default).
type HuaweiPoll struct {
	MinGap       time.Duration `yaml:"min_gap"`       // between event polls; default 200ms (at least)
	MaxGap       time.Duration `yaml:"max_gap"`       // default 500ms
	ErrorBackoff time.Duration `yaml:"error_backoff"` // after a failed poll; default (and at least) 1s
	Timeout      time.Duration `yaml:"timeout"`       // one event poll; default 30s
	CallTimeout  time.Duration `yaml:"call_timeout"`  // any other call; default 10s
	// ResignInAttempts after CC-Gateway lost a session (default 3; -1 off)
	// and the backoff before the second (default 1s, doubling).
	ResignInAttempts int           `yaml:"resign_in_attempts"`
	ResignInBackoff  time.Duration `yaml:"resign_in_backoff"`
}

// HuaweiCMS is the CC-CMS account (env AGENTBAR_HUAWEI_CMS_BASE_URL,
// AGENTBAR_HUAWEI_CMS_AK, AGENTBAR_HUAWEI_CMS_SK).
type HuaweiCMS struct {
	BaseURL string `yaml:"base_url"`
	AK      string `yaml:"ak"`
	SK      string `yaml:"sk"`
	CCID    int    `yaml:"ccid"` // default 1
	VDN     int    `yaml:"vdn"`  // default 1
	// StatsTTL is how long CMS figures are reused, for every agent's
	// bar, before CMS is asked again; default 5s.
	StatsTTL time.Duration `yaml:"stats_ttl"`
}

// HuaweiDemo tunes the built-in emulator (demo mode only).
type HuaweiDemo struct {
	Listen       string        `yaml:"listen"`        // default 127.0.0.1:0 (a free loopback port)
	GuidInterval time.Duration `yaml:"guid_interval"` // Guid rotation; default 60s
	GuidTimeout  time.Duration `yaml:"guid_timeout"`  // old Guids stay valid; default 120s
	PollHold     time.Duration `yaml:"poll_hold"`     // empty poll held; default 10s
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
	// MaxSession bounds renewals (renew_token): a bar renews its token
	// without the password until this long after the sign-in; default 12h.
	MaxSession time.Duration `yaml:"max_session"`
	// TokenWarning is how long before its token expires a bar is told to
	// renew it (session.notice token_expiring); default 1m, less than
	// token_ttl.
	TokenWarning time.Duration `yaml:"token_warning"`
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
	set(&c.Gateway.Kind, "AGENTBAR_GATEWAY")
	hw := &c.Gateway.Huawei
	set(&hw.BaseURL, "AGENTBAR_HUAWEI_BASE_URL")
	set(&hw.Events, "AGENTBAR_HUAWEI_EVENTS")
	set(&hw.CMS.BaseURL, "AGENTBAR_HUAWEI_CMS_BASE_URL")
	set(&hw.CMS.AK, "AGENTBAR_HUAWEI_CMS_AK")
	set(&hw.CMS.SK, "AGENTBAR_HUAWEI_CMS_SK")
	for id, a := range hw.Agents {
		set(&a.Password, HuaweiPasswordEnv(id))
		hw.Agents[id] = a
	}
	if v := env("AGENTBAR_ALLOWED_ORIGINS"); v != "" {
		c.AllowedOrigins = strings.Split(v, ",")
	}
}

// HuaweiPasswordEnv is the variable holding agent's CTI password.
func HuaweiPasswordEnv(agent string) string {
	b := []byte(strings.ToUpper(agent))
	for i, ch := range b {
		if !(ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9') {
			b[i] = '_'
		}
	}
	return "AGENTBAR_HUAWEI_PASSWORD_" + string(b)
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
	defD(&c.Auth.MaxSession, 12*time.Hour)
	defD(&c.Auth.TokenWarning, time.Minute)
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
	def(&c.Gateway.Kind, GatewayLocal)
	hw := &c.Gateway.Huawei
	on := func(p **bool) {
		if *p == nil {
			t := true
			*p = &t
		}
	}
	on(&hw.ManualAnswer)
	on(&hw.WrapUp)
	if hw.CMS.CCID == 0 {
		hw.CMS.CCID = 1
	}
	if hw.CMS.VDN == 0 {
		hw.CMS.VDN = 1
	}
	def(&hw.Demo.Listen, "127.0.0.1:0")
	def(&hw.Events, HuaweiPollEvents)
}

func (c *Config) check() error {
	var errs []error
	if k := c.Auth.HMACKey; k != "" && len(k) < 32 {
		errs = append(errs, errors.New("auth.hmac_key must be at least 32 bytes"))
	}
	if c.Auth.TokenTTL > c.Auth.MaxLifetime {
		errs = append(errs, errors.New("auth.token_ttl must not exceed auth.max_lifetime"))
	}
	if c.Auth.TokenWarning >= c.Auth.TokenTTL {
		errs = append(errs, errors.New("auth.token_warning must be less than auth.token_ttl"))
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
	errs = append(errs, c.checkGateway()...)
	return errors.Join(errs...)
}

func (c *Config) checkGateway() []error {
	var errs []error
	switch c.Gateway.Kind {
	case GatewayLocal:
		if !*c.CallCenter.Enabled {
			errs = append(errs, errors.New("gateway.kind local needs the built-in call center (callcenter.enabled)"))
		}
		return errs
	case GatewayHuawei:
	default:
		return append(errs, fmt.Errorf("gateway.kind %q: want local or huawei", c.Gateway.Kind))
	}
	hw := c.Gateway.Huawei
	if hw.BaseURL == "" {
		if !*c.CallCenter.Enabled {
			errs = append(errs, errors.New("gateway.huawei: demo mode (no base_url) needs the built-in call center"))
		}
	} else {
		if !strings.HasPrefix(hw.BaseURL, "http://") && !strings.HasPrefix(hw.BaseURL, "https://") {
			errs = append(errs, errors.New("gateway.huawei.base_url must be an http(s) URL"))
		}
		if len(hw.Agents) == 0 {
			errs = append(errs, errors.New("gateway.huawei.agents: a real CC-Gateway needs the agent directory"))
		}
		if !*c.CallCenter.Enabled && c.SIP.Upstream == "" {
			errs = append(errs, errors.New("gateway.huawei: without the built-in call center, sip.upstream must name the soft phones' registrar"))
		}
	}
	for id, a := range hw.Agents {
		if a.WorkNo == "" && hw.BaseURL != "" {
			errs = append(errs, fmt.Errorf("gateway.huawei.agents: %s has no work_no", id))
		}
		if a.Password == "" && hw.BaseURL != "" {
			errs = append(errs, fmt.Errorf("gateway.huawei.agents: %s has no password (set %s)", id, HuaweiPasswordEnv(id)))
		}
	}
	if hw.CMS.StatsTTL < 0 {
		errs = append(errs, errors.New("gateway.huawei.cms.stats_ttl must not be negative"))
	}
	if (hw.CMS.AK == "") != (hw.CMS.SK == "") || (hw.CMS.AK != "" && hw.CMS.BaseURL == "") {
		errs = append(errs, errors.New("gateway.huawei.cms needs base_url, ak and sk together"))
	}
	switch hw.Events {
	case HuaweiPollEvents, HuaweiPushEvents:
	default:
		errs = append(errs, fmt.Errorf("gateway.huawei.events %q: want poll or push", hw.Events))
	}
	if cb := hw.Push.CallbackURL; cb != "" && (!strings.HasPrefix(cb, "http://") && !strings.HasPrefix(cb, "https://") || len(cb) > 200) {
		errs = append(errs, errors.New("gateway.huawei.push.callback_url must be an http(s) URL of at most 200 characters"))
	}
	if hb := hw.Push.Heartbeat; hb < 0 || hb >= 2*time.Minute {
		errs = append(errs, errors.New("gateway.huawei.push.heartbeat must be below 2m (CC-Gateway signs the agent out after 2 minutes without one)"))
	}
	if d := hw.Demo; d.GuidInterval != 0 && d.GuidTimeout != 0 && d.GuidInterval >= d.GuidTimeout {
		errs = append(errs, errors.New("gateway.huawei.demo: guid_interval must be below guid_timeout"))
	}
	return errs
}
