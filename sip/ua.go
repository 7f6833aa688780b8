package sip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	gosip "github.com/emiago/sipgo/sip"
)

// T1 is the RFC 3261 round-trip estimate; the default timers derive from it.
const T1 = 500 * time.Millisecond

// Config configures a UA. URL, User and Domain are required.
type Config struct {
	// URL of the SIP-over-WebSocket server: ws:// or wss://.
	URL string
	// User and Domain form the address of record sip:User@Domain.
	User, Domain string
	// DisplayName is shown to the called party.
	DisplayName string
	// AuthUser and Password answer digest challenges; AuthUser defaults to User.
	AuthUser, Password string
	// Credentials, if set, is asked for fresh credentials before each
	// registration (ephemeral, time-limited credentials); it overrides
	// AuthUser and Password.
	Credentials func(ctx context.Context) (user, password string, err error)
	// Expires is the registration lifetime asked for; default 600 s.
	Expires time.Duration
	// InstanceID is the RFC 5626 instance URN (urn:uuid:...); default random per UA.
	InstanceID string
	// Protocols, if set, returns further WebSocket subprotocols to offer
	// after "sip" on each dial, e.g. "access_token.<jwt>" for an edge that
	// authenticates the upgrade; it is asked again on every redial so a
	// fresh token can be used.
	Protocols func() []string
	// UserAgent is sent in the User-Agent and Server headers.
	UserAgent string
	// KeepAlive is the interval of RFC 5626 CRLF keep-alives; default 25 s,
	// negative disables them. A Flow-Timer from the registrar shortens it.
	KeepAlive time.Duration
	// PongTimeout is how long to wait for a pong when the registrar supports
	// outbound; default 10 s. A missing pong drops and redials the flow.
	PongTimeout time.Duration
	// TransactionTimeout is Timer B/F on a reliable transport; default 64*T1 = 32 s.
	TransactionTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the redial backoff; defaults 500 ms and 30 s.
	ReconnectMin, ReconnectMax time.Duration
	// Logger receives structured logs; default discards. Secrets are never logged.
	Logger *slog.Logger
	// OnIncoming is called for each new incoming call, already ringing (180
	// sent). The handler answers or rejects it, now or later. Without a
	// handler calls are rejected with 480.
	OnIncoming func(*Call)
	// OnEvent receives UA and call events, in order, from one goroutine.
	OnEvent func(Event)
}

// UA is a SIP user agent over one WebSocket flow at a time: it registers,
// keeps the flow alive, redials with backoff, and places and takes calls.
type UA struct {
	cfg    Config
	log    *slog.Logger
	parser *gosip.Parser
	aor    gosip.Uri
	host   string // our .invalid host (RFC 7118 §5.2)
	tp     string // Via transport: WS or WSS
	events *dispatcher

	ctx    context.Context
	cancel context.CancelFunc
	loop   sync.WaitGroup

	mu        sync.Mutex
	flow      *flow
	flowUp    chan struct{} // closed and replaced whenever a flow comes up
	clientTxs map[string]*gosip.ClientTx
	serverTxs map[string]*gosip.ServerTx
	calls     map[string]*Call // by Call-ID
	reg       registration
	nonces    map[string]uint32 // digest nonce counts
	started   bool
	closed    bool
}

// NewUA checks the configuration and returns a UA that is not yet connected.
func NewUA(cfg Config) (*UA, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return nil, fmt.Errorf("sip: URL must be ws:// or wss://, got %q", cfg.URL)
	}
	if cfg.User == "" || cfg.Domain == "" {
		return nil, errors.New("sip: User and Domain are required")
	}
	if cfg.AuthUser == "" {
		cfg.AuthUser = cfg.User
	}
	setDefault(&cfg.Expires, 600*time.Second)
	setDefault(&cfg.KeepAlive, 25*time.Second)
	setDefault(&cfg.PongTimeout, 10*time.Second)
	setDefault(&cfg.TransactionTimeout, 64*T1)
	setDefault(&cfg.ReconnectMin, 500*time.Millisecond)
	setDefault(&cfg.ReconnectMax, 30*time.Second)
	if cfg.InstanceID == "" {
		cfg.InstanceID = "urn:uuid:" + uuid()
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "agentbar"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	aor := gosip.Uri{}
	if err := gosip.ParseUri("sip:"+cfg.User+"@"+cfg.Domain, &aor); err != nil {
		return nil, fmt.Errorf("sip: invalid address of record: %w", err)
	}
	ua := &UA{
		cfg:       cfg,
		log:       cfg.Logger,
		parser:    gosip.NewParser(),
		aor:       aor,
		host:      randomToken(12) + ".invalid",
		tp:        strings.ToUpper(u.Scheme),
		flowUp:    make(chan struct{}),
		clientTxs: map[string]*gosip.ClientTx{},
		serverTxs: map[string]*gosip.ServerTx{},
		calls:     map[string]*Call{},
		nonces:    map[string]uint32{},
	}
	ua.ctx, ua.cancel = context.WithCancel(context.Background())
	ua.events = newDispatcher()
	return ua, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

// Start connects and registers, returning the outcome of the first
// registration. The UA keeps running (redialing and re-registering) until
// Close, whatever Start returns.
func (ua *UA) Start(ctx context.Context) error {
	ua.mu.Lock()
	if ua.started || ua.closed {
		ua.mu.Unlock()
		return errors.New("sip: UA already started")
	}
	ua.started = true
	first := make(chan error, 1)
	ua.reg.first = first
	ua.mu.Unlock()
	ua.loop.Add(1)
	go ua.run()
	select {
	case err := <-first:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close hangs up every call, unregisters, and closes the flow.
func (ua *UA) Close(ctx context.Context) error {
	ua.mu.Lock()
	if ua.closed {
		ua.mu.Unlock()
		return nil
	}
	ua.closed = true
	calls := make([]*Call, 0, len(ua.calls))
	for _, c := range ua.calls {
		calls = append(calls, c)
	}
	ua.mu.Unlock()
	for _, c := range calls {
		c.Hangup(ctx)
	}
	var err error
	if ua.Registered() {
		err = ua.unregister(ctx)
	}
	ua.cancel()
	if f := ua.currentFlow(); f != nil {
		f.Close()
	}
	ua.loop.Wait()
	ua.terminateTransactions()
	ua.events.close()
	return err
}

// Registered reports whether the UA holds a current registration.
func (ua *UA) Registered() bool {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	return ua.reg.registered
}

// Contact is the contact URI the UA registers (its .invalid WebSocket address).
func (ua *UA) Contact() string {
	u := ua.contactURI()
	return u.String()
}

func (ua *UA) currentFlow() *flow {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	return ua.flow
}

// run dials, serves and redials the flow until the UA closes.
func (ua *UA) run() {
	defer ua.loop.Done()
	backoff := ua.cfg.ReconnectMin
	for ua.ctx.Err() == nil {
		f, err := dialFlow(ua.ctx, ua.cfg.URL, ua.host, ua.protocols())
		if err != nil {
			ua.log.Warn("sip: dial failed", "url", ua.cfg.URL, "err", err)
			ua.emit(Event{Kind: EventDisconnected, Err: err})
			ua.reg.failFirst(&ua.mu, err)
			if !sleepCtx(ua.ctx, jitter(backoff)) {
				return
			}
			backoff = min(backoff*2, ua.cfg.ReconnectMax)
			continue
		}
		backoff = ua.cfg.ReconnectMin
		ua.mu.Lock()
		ua.flow = f
		close(ua.flowUp)
		ua.flowUp = make(chan struct{})
		ua.mu.Unlock()
		ua.log.Info("sip: connected", "url", ua.cfg.URL)
		ua.emit(Event{Kind: EventConnected})

		served := make(chan struct{})
		go func() {
			defer close(served)
			ua.serveRegistration(f)
		}()
		go ua.keepAlive(f)
		for {
			data, err := f.read(ua.ctx)
			if err != nil {
				break
			}
			ua.receive(f, data)
		}
		<-served
		ua.mu.Lock()
		if ua.flow == f {
			ua.flow = nil
		}
		ua.reg.registered = false
		ua.mu.Unlock()
		if ua.ctx.Err() != nil {
			return
		}
		ua.log.Warn("sip: flow lost", "err", f.err)
		ua.emit(Event{Kind: EventDisconnected, Err: f.err})
		if !sleepCtx(ua.ctx, jitter(ua.cfg.ReconnectMin)) {
			return
		}
	}
}

// keepAlive sends RFC 5626 §4.4.1 CRLF pings. When the registrar supports
// outbound it expects a pong and drops the flow if none comes.
func (ua *UA) keepAlive(f *flow) {
	for {
		ua.mu.Lock()
		every := ua.cfg.KeepAlive
		if ua.reg.flowTimer > 0 {
			every = min(every, ua.reg.flowTimer*4/5)
		}
		needPong := ua.reg.outbound
		ua.mu.Unlock()
		if every < 0 {
			return
		}
		select {
		case <-f.done:
			return
		case <-time.After(every):
		}
		f.drainPong()
		if err := f.writeRaw([]byte("\r\n\r\n")); err != nil {
			return
		}
		if !needPong {
			continue
		}
		select {
		case <-f.done:
			return
		case <-f.pong:
		case <-time.After(ua.cfg.PongTimeout):
			ua.log.Warn("sip: no keep-alive pong, dropping flow")
			f.fail(fmt.Errorf("%w: no keep-alive pong within %s", ErrTransport, ua.cfg.PongTimeout))
			return
		}
	}
}

// protocols lists the subprotocols to offer: "sip" first.
func (ua *UA) protocols() []string {
	p := []string{"sip"}
	if ua.cfg.Protocols != nil {
		p = append(p, ua.cfg.Protocols()...)
	}
	return p
}

func (ua *UA) emit(e Event) {
	if fn := ua.cfg.OnEvent; fn != nil {
		ua.events.post(func() { fn(e) })
	}
}

// terminateTransactions ends every transaction left when the UA closes.
func (ua *UA) terminateTransactions() {
	ua.mu.Lock()
	cts := make([]*gosip.ClientTx, 0, len(ua.clientTxs))
	for _, tx := range ua.clientTxs {
		cts = append(cts, tx)
	}
	sts := make([]*gosip.ServerTx, 0, len(ua.serverTxs))
	for _, tx := range ua.serverTxs {
		sts = append(sts, tx)
	}
	ua.mu.Unlock()
	for _, tx := range cts {
		tx.Terminate()
	}
	for _, tx := range sts {
		tx.Terminate()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// jitter spreads redials of many agents: d plus up to 50%.
func jitter(d time.Duration) time.Duration { return d + randomBetween(0, d/2) }

// randomBetween is a uniformly random duration in [lo, hi), or lo if the range is empty.
func randomBetween(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + mrand.N(hi-lo)
}

// randomToken returns n random lowercase hex-ish characters for tags, branches and hosts.
func randomToken(n int) string {
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		panic("sip: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)[:n]
}

// uuid returns a random RFC 4122 version 4 UUID.
func uuid() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("sip: crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
