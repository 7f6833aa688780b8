package huaweiemu

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// Spec defaults (engineering spec §9: GUIDINTERVAL, GUIDTIMEOUT, the
// two-minute poll rule and the ~10 s poll hold).
const (
	DefaultGuidInterval = 60 * time.Second
	DefaultGuidTimeout  = 120 * time.Second
	DefaultIdleSignOut  = 2 * time.Minute
	DefaultPollHold     = 10 * time.Second
	// DefaultSignatureSkew is how far an auth-v2 timestamp may be from the
	// emulator's clock (the seed gives none; the spec suggests ±15 min).
	DefaultSignatureSkew = 15 * time.Minute
)

// serverName is the CC-Gateway node name: the sign-in result's serverName
// and the suffix of every Guid.
const serverName = "AgentGateway1"

// Agent is one agent the emulated CC-Gateway knows: what the C4 sign-in
// checks (an empty PhoneNumber accepts any phonenum) and the call-center
// queues it serves (its skills, for agentskills and the CMS figures).
type Agent struct {
	Password    string
	PhoneNumber string
	Queues      []string
}

// Queue is a call-center queue as CC-Gateway shows it: skill number i+1
// for Config.Queues[i].
type Queue struct {
	ID, Name string
}

// Config configures an Emulator.
type Config struct {
	// Gateway is the call center's neutral gateway (cc.Gateway()).
	Gateway gateway.Gateway
	// Agents maps an agentid (work number) to its sign-in credentials.
	Agents map[string]Agent
	// GuidInterval is the Guid rotation period; default 60 s.
	GuidInterval time.Duration
	// GuidTimeout is how long a superseded Guid stays valid; default 120 s.
	// It must exceed GuidInterval.
	GuidTimeout time.Duration
	// IdleSignOut signs an agent out after no event poll (push mode: no
	// heartbeat) for this long; default 2 min.
	IdleSignOut time.Duration
	// PollHold is how long an empty event poll is held; default 10 s.
	PollHold time.Duration
	// Queues are the call center's queues, numbered as skills in this
	// order. Without them a queue's skill number is the queue id if it is
	// a number, else 1.
	Queues []Queue
	// AKSK maps C2 app keys to their secrets, for the CC-CMS resources.
	AKSK map[string]string
	// PushClient sends push-mode events to the agents' callbackUri;
	// default a client with a 10 s timeout.
	PushClient *http.Client
	// SignatureSkew bounds the age of an auth-v2 timestamp; default 15 min.
	SignatureSkew time.Duration
	// OnGuid, if set, is called with every Guid the emulator issues (at
	// sign-in and on rotation), under the emulator's lock: for tests that
	// check no Guid leaks. It must not block or log the value.
	OnGuid func(guid string)
	// Clock is the time source; default time.Now.
	Clock func() time.Time
	// Logger receives structured logs; default discards. Passwords, Guids,
	// AK/SK and signatures are never logged.
	Logger *slog.Logger
}

// Emulator is the emulated CC-Gateway. It is an http.Handler.
type Emulator struct {
	cfg  Config
	log  *slog.Logger
	now  func() time.Time
	done chan struct{}
	ctx  context.Context // ends at Close: cancels pushes under way
	stop context.CancelFunc
	wg   sync.WaitGroup

	table    map[string]route      // resource/operation -> route
	cmsTable map[string]cmsHandler // CMS path -> handler

	signMu sync.Mutex
	signIn map[string]*sync.Mutex // per agent: sign-in and sign-out never overlap

	mu         sync.Mutex
	closed     bool
	sessions   map[string]*session // agentid -> live session
	guids      map[string]*guidRec // Guid -> its session
	callIDs    map[string]string   // neutral call ID -> Huawei callid
	neutralIDs map[string]string   // Huawei callid -> neutral call ID
	callSeq    int
	cms        map[string]*cmsAgent   // agentid -> monitoring figures
	queries    map[string][]time.Time // agentid -> its latest flow-controlled queries
	tally      map[string]*agentDay   // agentid -> its day's calls (CMS; kept across Restart)
}

// guidRec is one issued Guid.
type guidRec struct {
	s       *session
	expires time.Time // zero while it is the session's current Guid
}

// New checks cfg and makes an Emulator; Close stops it.
func New(cfg Config) (*Emulator, error) {
	if cfg.Gateway == nil {
		return nil, errors.New("huaweiemu: no gateway")
	}
	if cfg.GuidInterval <= 0 {
		cfg.GuidInterval = DefaultGuidInterval
	}
	if cfg.GuidTimeout <= 0 {
		cfg.GuidTimeout = DefaultGuidTimeout
	}
	if cfg.GuidInterval >= cfg.GuidTimeout {
		return nil, errors.New("huaweiemu: GuidInterval must be below GuidTimeout")
	}
	if cfg.IdleSignOut <= 0 {
		cfg.IdleSignOut = DefaultIdleSignOut
	}
	if cfg.PollHold <= 0 {
		cfg.PollHold = DefaultPollHold
	}
	if cfg.SignatureSkew <= 0 {
		cfg.SignatureSkew = DefaultSignatureSkew
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.PushClient == nil {
		cfg.PushClient = &http.Client{Timeout: 10 * time.Second}
	}
	e := &Emulator{
		cfg:    cfg,
		log:    cfg.Logger,
		now:    cfg.Clock,
		done:   make(chan struct{}),
		signIn: map[string]*sync.Mutex{},
		tally:  map[string]*agentDay{},
	}
	e.ctx, e.stop = context.WithCancel(context.Background())
	e.table, e.cmsTable = e.routes(), e.cmsRoutes()
	e.reset()
	e.wg.Add(1)
	go e.sweeper()
	return e, nil
}

// reset forgets every session and Guid; e.mu is held or e is new.
func (e *Emulator) reset() {
	e.sessions = map[string]*session{}
	e.guids = map[string]*guidRec{}
	e.callIDs = map[string]string{}
	e.neutralIDs = map[string]string{}
	e.cms = map[string]*cmsAgent{}
	e.queries = map[string][]time.Time{}
}

// Close signs every agent out at the call center and stops the emulator.
func (e *Emulator) Close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	close(e.done)
	e.stop()
	ended := e.forgetAllLocked()
	e.mu.Unlock()
	e.closeGateway(ended)
	e.wg.Wait()
}

// Restart forgets every session and Guid, as a restarted CC-Gateway would:
// the next request with an old Guid gets 100-006. The agents are signed
// out at the call center too, so that a plain sign-in works again: under
// their sign-in locks, so that an adapter signing in again at once (on
// its 100-006) waits for that instead of finding the agent still signed
// in there (100-002).
func (e *Emulator) Restart() {
	e.mu.Lock()
	agents := slices.Sorted(maps.Keys(e.sessions)) // one lock order
	e.mu.Unlock()
	for _, a := range agents {
		l := e.agentLock(a)
		l.Lock()
		defer l.Unlock()
	}
	e.mu.Lock()
	ended := e.forgetAllLocked()
	e.mu.Unlock()
	e.closeGateway(ended)
	e.log.Info("huaweiemu: restarted", "sessions", len(ended))
}

// forgetAllLocked ends every session without a goodbye event and empties
// every table; it returns the gateway sessions to close.
func (e *Emulator) forgetAllLocked() []gateway.Session {
	var gws []gateway.Session
	for _, s := range e.sessions {
		s.ended = true
		s.queue = nil
		s.wakeLocked()
		if s.gw != nil {
			gws = append(gws, s.gw)
		}
	}
	e.reset()
	return gws
}

// closeGateway signs the given gateway sessions out.
func (e *Emulator) closeGateway(gws []gateway.Session) {
	for _, g := range gws {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := g.Close(ctx); err != nil {
			e.log.Warn("huaweiemu: sign-out at the call center failed", "err", err)
		}
		cancel()
	}
}

// sweeper applies the time rules (idle sign-out, Guid expiry) even when
// no request arrives; requests apply them too, so an injected clock works
// without it.
func (e *Emulator) sweeper() {
	defer e.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-e.done:
			return
		case <-t.C:
			e.sweep()
		}
	}
}

// sweep signs out agents that stopped polling (poll mode) or sending
// heartbeats (push mode), and drops expired Guids.
func (e *Emulator) sweep() {
	e.mu.Lock()
	now := e.now()
	var gws []gateway.Session
	for _, s := range e.sessions {
		if !s.ended && now.Sub(s.lastPoll) >= e.cfg.IdleSignOut {
			e.log.Info("huaweiemu: no event poll or heartbeat, signing the agent out", "agent", s.agent, "push", s.callback != "", "idle", now.Sub(s.lastPoll))
			if g := e.endLocked(s); g != nil {
				gws = append(gws, g)
			}
		}
	}
	for g, rec := range e.guids {
		switch {
		case !rec.expires.IsZero() && !now.Before(rec.expires):
			delete(e.guids, g)
		case rec.s.ended && (len(rec.s.queue) == 0 || now.Sub(rec.s.endedAt) >= e.cfg.IdleSignOut):
			delete(e.guids, g)
		}
	}
	e.mu.Unlock()
	e.closeGateway(gws)
}

// endLocked ends s: it leaves the live table, its last poll gets
// AgentOther_ShutdownService, and the gateway session to close (if any) is
// returned.
func (e *Emulator) endLocked(s *session) gateway.Session {
	if s.ended {
		return nil
	}
	s.ended = true
	s.endedAt = e.now()
	if e.sessions[s.agent] == s {
		delete(e.sessions, s.agent)
	}
	s.push(eventShutdown, map[string]string{"loginTime": msString(s.loginTime)})
	e.cmsSignedOutLocked(s.agent)
	g := s.gw
	s.gw = nil
	return g
}

// newGuid is a fresh Guid: a random UUID, a dot and the node name.
func newGuid() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("huaweiemu: no randomness: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x.%s", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16], serverName)
}

// newGuidLocked issues a fresh Guid and tells OnGuid.
func (e *Emulator) newGuidLocked() string {
	g := newGuid()
	if e.cfg.OnGuid != nil {
		e.cfg.OnGuid(g)
	}
	return g
}

// msString is t as epoch milliseconds in a string.
func msString(t time.Time) string { return fmt.Sprint(t.UnixMilli()) }

// hwCallIDLocked is the Huawei-shaped callid ("<epoch s>-<seq>") standing
// for a neutral call ID.
func (e *Emulator) hwCallIDLocked(neutral string) string {
	if neutral == "" {
		return ""
	}
	if id, ok := e.callIDs[neutral]; ok {
		return id
	}
	e.callSeq++
	id := fmt.Sprintf("%d-%d", e.now().Unix(), e.callSeq)
	e.callIDs[neutral] = id
	e.neutralIDs[id] = neutral
	return id
}

// neutralCallID is the neutral call ID a client's callid stands for; an
// unknown one is passed on as it is (the call center then finds no call).
func (e *Emulator) neutralCallID(hw string) string {
	if hw == "" {
		return ""
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if id, ok := e.neutralIDs[hw]; ok {
		return id
	}
	return hw
}

// agentLock is the lock serializing agent's sign-in and sign-out.
func (e *Emulator) agentLock(agent string) *sync.Mutex {
	e.signMu.Lock()
	defer e.signMu.Unlock()
	m := e.signIn[agent]
	if m == nil {
		m = &sync.Mutex{}
		e.signIn[agent] = m
	}
	return m
}

// authorize checks the Guid header of a request for agent. A poll may
// still read the goodbye event of an ended session. It returns the
// result code to answer when the Guid is not good.
func (e *Emulator) authorize(r *http.Request, agent string, poll bool) (*session, string) {
	e.sweep()
	g := strings.TrimSpace(r.Header.Get("Guid"))
	g = strings.TrimPrefix(g, "JSESSIONID=")
	if g == "" {
		return nil, codeNotSignedIn
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	rec := e.guids[g]
	switch {
	case rec == nil:
		return nil, codeNotSignedIn
	case rec.s.agent != agent:
		return nil, codeNoPermission
	case !rec.expires.IsZero() && !e.now().Before(rec.expires):
		delete(e.guids, g)
		return nil, codeNotSignedIn
	case rec.s.ended && !(poll && len(rec.s.queue) > 0):
		return nil, codeNotSignedIn
	}
	return rec.s, ""
}

// rotateLocked rotates s's Guid when it is GuidInterval old and returns
// the Guid to announce to a client that sent reqGuid ("" when it has the
// current one).
func (e *Emulator) rotateLocked(s *session, reqGuid string) string {
	if s.ended {
		return ""
	}
	now := e.now()
	if now.Sub(s.guidAt) >= e.cfg.GuidInterval {
		if rec := e.guids[s.guid]; rec != nil {
			rec.expires = now.Add(e.cfg.GuidTimeout)
		}
		s.guid, s.guidAt = e.newGuidLocked(), now
		e.guids[s.guid] = &guidRec{s: s}
		e.log.Debug("huaweiemu: Guid rotated", "agent", s.agent)
	}
	if reqGuid == s.guid {
		return ""
	}
	return s.guid
}

// setGuidHeaders puts g in the response headers the way the seed shows.
func setGuidHeaders(w http.ResponseWriter, g string) {
	w.Header().Set("Guid", g)
	w.Header().Set("Set-GUID", "JSESSIONID="+g)
}
