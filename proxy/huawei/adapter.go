package huawei

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// Agent is one entry of the proxy's agent directory (secrets).
type Agent struct {
	// WorkNo is the CC-Gateway agent work number (101-59999), the
	// {agentid} of every path.
	WorkNo string
	// Password is the CTI platform work-number password.
	Password string
	// PhoneNumber is the soft-phone number bound at sign-in (phonenum).
	PhoneNumber string
}

// String hides the password if an Agent is ever printed.
func (a Agent) String() string { return fmt.Sprintf("Agent{WorkNo:%s}", a.WorkNo) }

// Config configures an Adapter.
type Config struct {
	// BaseURL is the CC-Gateway base, e.g. https://cc-gw.example.com:8043;
	// operations live under /agentgateway/resource/.
	BaseURL string
	// HTTPClient carries the TLS settings; http.DefaultClient if nil. Its
	// Timeout, if set, must exceed the long-poll hold (about 10 s).
	HTTPClient *http.Client
	// Agents maps the bar's agent id to the directory entry.
	Agents map[string]Agent
	// PollMinGap and PollMaxGap bound the pause between event polls:
	// default 200 ms and 500 ms (the seed's rule).
	PollMinGap, PollMaxGap time.Duration
	// ErrorBackoff is the pause after a non-200 poll answer; at least 1 s.
	ErrorBackoff time.Duration
	// PollTimeout bounds one event poll (default 30 s); CallTimeout bounds
	// every other call (default 10 s).
	PollTimeout, CallTimeout time.Duration
	// CallDataTimeout bounds the reading of a new inbound call's data
	// (calldata callinfobycallid, then callinfo) that its first event
	// waits for before it goes to the bar; default 2 s, negative turns
	// the reading off. A late or failed read lets the event go without
	// the data.
	CallDataTimeout time.Duration
	// DefaultRest is the rest length when a rest command has none
	// (default 30 min; the CTI takes 1 s to 86399 s).
	DefaultRest time.Duration
	// ManualAnswer signs agents in with autoanswer=false, so calls ring
	// (AgentEvent_Ringing) until answered.
	ManualAnswer bool
	// WrapUp signs agents in with autoenteridle=false, so calls end in
	// wrap-up instead of ready.
	WrapUp bool
	// ResignInAttempts bounds the sign-ins tried when CC-Gateway forgets a
	// live session (100-006 or 000-003 on the event poll or heartbeat, as
	// after its restart): default 3; negative turns re-sign-in off, so the agent is
	// signed out at once.
	ResignInAttempts int
	// ResignInBackoff is the pause before the second re-sign-in, doubled
	// before each further one; default 1 s.
	ResignInBackoff time.Duration
	// Reasons are the not-ready (200-250) and rest (0-255) reasons offered.
	Reasons []gateway.Reason
	// Now and After are the clock; time.Now and time.After if nil.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// Logger receives the adapter's logs; slog.Default() if nil.
	Logger *slog.Logger
	// CMS enables the statistics client (Session.Stats): C2-signed, or
	// with the C1 bearer token of Fabric when CMS has no AK/SK.
	CMS *CMSConfig
	// Fabric enables the C1 token source for /apiaccess calls.
	Fabric *FabricConfig
	// StatsTTL is how long CMS figures are reused before CMS is asked
	// again (default 5 s): one refresh serves every agent's bar.
	StatsTTL time.Duration
	// Push switches event delivery to push mode (spec §7.2): CC-Gateway
	// POSTs events to Push.CallbackURL, which must reach PushHandler, and
	// sessions heartbeat instead of polling. nil = poll mode.
	Push *PushConfig
}

// Adapter is the Huawei CEC gateway.Gateway.
type Adapter struct {
	cfg    Config
	base   string
	hc     *http.Client
	log    *slog.Logger
	codes  map[string]retcodeInfo
	cms    *CMSClient
	fabric *TokenSource

	stats *statsBoard // nil without CMS

	mu     sync.Mutex
	locks  map[string]*sync.Mutex // per work number: sign-in and sign-out never overlap
	pushed map[string]*session    // push mode: the session of each work number
}

var _ gateway.Gateway = (*Adapter)(nil)

// New validates cfg and builds an Adapter.
func New(cfg Config) (*Adapter, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("huawei: BaseURL must be an http(s) URL")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.PollMinGap == 0 {
		cfg.PollMinGap = 200 * time.Millisecond
	}
	if cfg.PollMaxGap == 0 {
		cfg.PollMaxGap = 500 * time.Millisecond
	}
	if cfg.PollMinGap < 200*time.Millisecond || cfg.PollMaxGap < cfg.PollMinGap {
		return nil, errors.New("huawei: poll gaps must satisfy 200ms <= PollMinGap <= PollMaxGap")
	}
	cfg.ErrorBackoff = max(cfg.ErrorBackoff, time.Second)
	if cfg.PollTimeout == 0 {
		cfg.PollTimeout = 30 * time.Second
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 10 * time.Second
	}
	if cfg.CallDataTimeout == 0 {
		cfg.CallDataTimeout = 2 * time.Second
	}
	if cfg.ResignInAttempts == 0 {
		cfg.ResignInAttempts = 3
	}
	if cfg.ResignInBackoff <= 0 {
		cfg.ResignInBackoff = time.Second
	}
	if cfg.DefaultRest == 0 {
		cfg.DefaultRest = 30 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StatsTTL <= 0 {
		cfg.StatsTTL = 5 * time.Second
	}
	if cfg.Push != nil {
		p := *cfg.Push // defaults go into the adapter's copy
		if err := p.check(); err != nil {
			return nil, err
		}
		cfg.Push = &p
	}
	for id, ag := range cfg.Agents {
		if n, err := strconv.Atoi(ag.WorkNo); err != nil || n < 1 || n > 59999 {
			return nil, fmt.Errorf("huawei: agent %q: WorkNo must be a number in 1-59999", id)
		}
	}
	for _, r := range cfg.Reasons {
		n, err := strconv.Atoi(r.Code)
		switch {
		case err != nil:
			return nil, fmt.Errorf("huawei: reason %q is not a number", r.Code)
		case r.Rest && (n < 0 || n > 255):
			return nil, fmt.Errorf("huawei: rest reason %q outside 0-255", r.Code)
		case !r.Rest && (n < 200 || n > 250):
			return nil, fmt.Errorf("huawei: not-ready reason %q outside 200-250", r.Code)
		}
	}
	a := &Adapter{
		cfg:    cfg,
		base:   strings.TrimRight(cfg.BaseURL, "/") + "/agentgateway/resource/",
		hc:     cfg.HTTPClient,
		log:    cfg.Logger,
		codes:  retcodeTable(),
		locks:  map[string]*sync.Mutex{},
		pushed: map[string]*session{},
	}
	if cfg.Fabric != nil {
		if a.fabric, err = NewTokenSource(*cfg.Fabric, cfg.HTTPClient, cfg.Now, cfg.Logger); err != nil {
			return nil, err
		}
	}
	if cfg.CMS != nil {
		cms := *cfg.CMS
		if cms.AK == "" && cms.SK == "" && cms.Bearer == nil {
			cms.Bearer = a.fabric // C1 when CMS has no AK/SK of its own
		}
		if a.cms, err = NewCMSClient(cms, cfg.HTTPClient, cfg.Now, cfg.Logger); err != nil {
			return nil, err
		}
		a.stats = newStatsBoard(a.cms, cfg.Now, cfg.StatsTTL)
	}
	return a, nil
}

// CMS is the C2-signed CMS client, nil unless configured.
func (a *Adapter) CMS() *CMSClient { return a.cms }

// Fabric is the C1 token source, nil unless configured.
func (a *Adapter) Fabric() *TokenSource { return a.fabric }

// Reasons lists the configured not-ready and rest reasons.
func (a *Adapter) Reasons() []gateway.Reason {
	return append([]gateway.Reason(nil), a.cfg.Reasons...)
}

// Ready reports whether CC-Gateway answers HTTP at all: a transport error
// or a 5xx status means unavailable.
func (a *Adapter) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.CallTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base, nil)
	if err != nil {
		return gateway.Errorf(gateway.CodeInternal, "bad CC-Gateway URL")
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	resp, err := a.hc.Do(req)
	if err != nil {
		a.log.Warn("huawei: CC-Gateway unreachable", "err", redactURLErr(err))
		return gateway.Errorf(gateway.CodeUnavailable, "CC-Gateway unreachable / 无法连接 CC-Gateway")
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return gateway.Errorf(gateway.CodeUnavailable, "CC-Gateway answered HTTP %d / CC-Gateway 返回 HTTP %d", resp.StatusCode, resp.StatusCode)
	}
	return nil
}

// agentLock is the mutex serializing sign-in and sign-out of one work number.
func (a *Adapter) agentLock(workNo string) *sync.Mutex {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, ok := a.locks[workNo]
	if !ok {
		m = &sync.Mutex{}
		a.locks[workNo] = m
	}
	return m
}

// signInBody is the sign-in request (table 6-3); forcelogin takes the same.
// CallbackURI and ServiceToken together select push mode (seed line 6896).
type signInBody struct {
	Password      string `json:"password"`
	PhoneNum      string `json:"phonenum"`
	Status        int    `json:"status"`
	AutoAnswer    bool   `json:"autoanswer"`
	AutoEnterIdle bool   `json:"autoenteridle"`
	ReleasePhone  bool   `json:"releasephone"`
	AgentType     int    `json:"agenttype"`
	CallbackURI   string `json:"callbackUri,omitempty"`
	ServiceToken  string `json:"serviceToken,omitempty"`
}

// statusBusy is the sign-in status that leaves the agent not ready.
const statusBusy = 3

// SignIn signs the agent in (forcing out another session when opts.Force),
// starts its event loop (poll mode) or heartbeat (push mode) and returns
// the session. The first event is the agent's state, not ready.
func (a *Adapter) SignIn(ctx context.Context, agent string, opts gateway.SignInOptions, sink func(gateway.Event)) (gateway.Session, error) {
	if sink == nil {
		return nil, gateway.Errorf(gateway.CodeBadRequest, "no event sink")
	}
	dir, ok := a.cfg.Agents[agent]
	if !ok {
		return nil, gateway.Errorf(gateway.CodeUnknownAgent, "unknown agent / 未知座席")
	}
	phone := dir.PhoneNumber
	if phone == "" {
		phone = phoneUser(opts.Phone)
	}
	if phone == "" {
		return nil, gateway.Errorf(gateway.CodeBadRequest, "no phone number to bind / 没有可绑定的话机号码")
	}
	c := &conn{a: a, workNo: dir.WorkNo, agent: agent}
	body := signInBody{
		Password: dir.Password, PhoneNum: phone, Status: statusBusy,
		AutoAnswer: !a.cfg.ManualAnswer, AutoEnterIdle: !a.cfg.WrapUp,
		ReleasePhone: true, AgentType: 4,
	}
	s := newSession(c, sink)
	if a.cfg.Push != nil {
		// Registered before the sign-in: its first events may be pushed
		// before its answer arrives.
		s.push = newPushState(a.cfg.Now())
		body.CallbackURI, body.ServiceToken = a.cfg.Push.CallbackURL, s.push.current()
		a.register(s)
	}
	res, err := a.login(ctx, c, body, opts.Force)
	if err != nil {
		a.unregister(s)
		s.cancel()
		return nil, err
	}
	s.login, s.queues = body, opts.Queues
	a.log.Info("huawei: agent signed in", "agent", agent, "workno", dir.WorkNo, "server", res.ServerName.String(), "push", s.push != nil)
	s.emit(s.stateEvent(gateway.StateNotReady, ""))
	if res.IsForceChange.Bool() {
		s.emit(gateway.Event{Type: gateway.EvNotice, Time: a.cfg.Now(), Code: "password_change_required",
			Message: "the CTI password must be changed before calls work / 需先修改座席密码才能处理呼叫"})
	}
	s.joinQueues(ctx)
	if s.push != nil {
		s.push.confirm(body.ServiceToken)
		s.startPushed()
		go s.heartbeat()
	} else {
		go s.loop()
	}
	return s, nil
}

// login signs c's agent in with body (forcing when force and the agent is
// signed in elsewhere), holding the work number's lock, and leaves the new
// Guid in c.
func (a *Adapter) login(ctx context.Context, c *conn, body signInBody, force bool) (signInResult, error) {
	var res signInResult
	lock := a.agentLock(c.workNo)
	lock.Lock()
	defer lock.Unlock()
	c.mu.Lock()
	c.guid = "" // a Guid of an earlier session must not pass for the new one
	c.mu.Unlock()
	env, err := c.call(ctx, http.MethodPut, "onlineagent/"+c.workNo, nil, body, false)
	if err != nil {
		return res, err
	}
	rc := env.Retcode.String()
	if rc == "100-002" && force {
		a.log.Info("huawei: agent signed in elsewhere, forcing sign-in", "agent", c.agent)
		env, err = c.call(ctx, http.MethodPut, "onlineagent/"+c.workNo+"/forcelogin", nil, body, false)
		if err != nil {
			return res, err
		}
		rc = env.Retcode.String()
	}
	if rc != "0" {
		a.log.Info("huawei: sign-in refused", "agent", c.agent, "retcode", rc)
		return res, codeFor(a.codes, rc, "sign-in")
	}
	if !c.hasGuid() {
		a.log.Error("huawei: sign-in response carried no Guid header", "agent", c.agent)
		return res, gateway.Errorf(gateway.CodeUnavailable, "sign-in answer lacks the session credential / 签入响应缺少会话凭据")
	}
	if len(env.Result) > 0 {
		if err := json.Unmarshal(env.Result, &res); err != nil {
			a.log.Warn("huawei: sign-in result unreadable", "agent", c.agent, "err", err)
		}
	}
	return res, nil
}

// phoneUser is the user part of a SIP address ("sip:40038@host" -> "40038").
func phoneUser(p string) string {
	p = strings.TrimPrefix(strings.TrimPrefix(p, "sips:"), "sip:")
	if i := strings.IndexByte(p, '@'); i >= 0 {
		p = p[:i]
	}
	return p
}

// conn is one agent's CC-Gateway connection: the work number and the
// current Guid, which it replaces from every response's headers.
type conn struct {
	a      *Adapter
	workNo string
	agent  string // the bar's id, for logs

	mu   sync.Mutex
	guid string

	qmu   sync.Mutex
	qsent []time.Time // when the latest flow-controlled queries were (or will be) sent
}

func (c *conn) hasGuid() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.guid != ""
}

// takeGuid applies the client rule of §2.4: Set-GUID (after an optional
// JSESSIONID= prefix) wins over Guid; absent headers change nothing.
func (c *conn) takeGuid(h http.Header) {
	g := strings.TrimSpace(h.Get("Set-GUID"))
	if g != "" {
		g = strings.TrimSpace(strings.TrimPrefix(g, "JSESSIONID="))
		if i := strings.IndexByte(g, ';'); i >= 0 {
			g = g[:i]
		}
	}
	if g == "" {
		g = strings.TrimSpace(h.Get("Guid"))
	}
	if g == "" {
		return
	}
	c.mu.Lock()
	changed := g != c.guid && c.guid != ""
	c.guid = g
	c.mu.Unlock()
	if changed {
		c.a.log.Debug("huawei: session credential rotated", "agent", c.agent)
	}
}

// call performs one CC-Gateway operation on path (relative to
// /agentgateway/resource/) and returns its envelope. withGuid sends the
// Guid header. Transport failures and non-200 answers are unavailable
// errors; the retcode is left to the caller.
func (c *conn) call(ctx context.Context, method, path string, q url.Values, body any, withGuid bool) (*envelope, error) {
	return c.callTimeout(ctx, method, path, q, body, withGuid, c.a.cfg.CallTimeout, nil)
}

// callTimeout is call with its own timeout and extra request headers. A
// flow-controlled query first waits for its turn (paceQuery).
func (c *conn) callTimeout(ctx context.Context, method, path string, q url.Values, body any, withGuid bool, timeout time.Duration, hdr http.Header) (*envelope, error) {
	if isQuery(path) {
		if err := c.paceQuery(ctx); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, gateway.Errorf(gateway.CodeInternal, "request encoding failed")
		}
		rd = bytes.NewReader(raw)
	}
	u := c.a.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, gateway.Errorf(gateway.CodeInternal, "bad request path")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	if withGuid {
		c.mu.Lock()
		req.Header.Set("Guid", c.guid)
		c.mu.Unlock()
	}
	op := opName(path)
	resp, err := c.a.hc.Do(req)
	if err != nil {
		if ctx.Err() == nil || errors.Is(err, context.DeadlineExceeded) {
			c.a.log.Warn("huawei: CC-Gateway call failed", "agent", c.agent, "op", op, "err", redactURLErr(err))
		}
		return nil, &gateway.Error{Code: gateway.CodeUnavailable, Message: "CC-Gateway unreachable / 无法连接 CC-Gateway"}
	}
	defer resp.Body.Close()
	c.takeGuid(resp.Header)
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		c.a.log.Warn("huawei: CC-Gateway answered non-200", "agent", c.agent, "op", op, "status", resp.StatusCode)
		return nil, gateway.Errorf(gateway.CodeUnavailable, "CC-Gateway answered HTTP %d / CC-Gateway 返回 HTTP %d", resp.StatusCode, resp.StatusCode)
	}
	var env envelope
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&env); err != nil {
		c.a.log.Warn("huawei: CC-Gateway answer unreadable", "agent", c.agent, "op", op, "err", err)
		return nil, gateway.Errorf(gateway.CodeUnavailable, "CC-Gateway answer unreadable / CC-Gateway 响应无法解析")
	}
	return &env, nil
}

// opName is a path's operation for logs: the segments without the work
// number and without query-like values (e.g. "onlineagent/sayfree").
func opName(path string) string {
	segs := strings.Split(path, "/")
	if len(segs) <= 2 {
		return segs[0]
	}
	return segs[0] + "/" + segs[2]
}

// jitter is a pause in [lo, hi].
func jitter(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + rand.N(hi-lo+1)
}
