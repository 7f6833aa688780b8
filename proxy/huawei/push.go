package huawei

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// PushPath is where a server mounts PushHandler; PushConfig.CallbackURL
// is normally the server's public address followed by it. The seed only
// gives a sample path (.../v1/agentevent/pushresult, line 13599).
const PushPath = "/v1/huawei/agentevent/pushresult"

// PushConfig configures push mode (spec §7.2, seed 6.1.4.2 and 6.1.1.3).
type PushConfig struct {
	// CallbackURL is the callbackUri sent at sign-in: an http(s) URL of
	// at most 200 characters that CC-Gateway can reach and that is served
	// by PushHandler.
	CallbackURL string
	// Heartbeat is the handshake period: default 30 s, the seed's advice
	// (line 7175; CC-Gateway signs an agent out after 2 min without one).
	Heartbeat time.Duration
	// TokenRefresh is how often a heartbeat carries a new service_token:
	// default 1 min, the seed's advice (line 7205).
	TokenRefresh time.Duration
}

// check validates p and fills in its defaults.
func (p *PushConfig) check() error {
	u, err := url.Parse(p.CallbackURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(p.CallbackURL) > 200 {
		return errors.New("huawei: Push.CallbackURL must be an http(s) URL of at most 200 characters")
	}
	if p.Heartbeat <= 0 {
		p.Heartbeat = 30 * time.Second
	}
	if p.Heartbeat >= 2*time.Minute {
		return errors.New("huawei: Push.Heartbeat must be well below CC-Gateway's 2-minute limit")
	}
	if p.TokenRefresh <= 0 {
		p.TokenRefresh = time.Minute
	}
	return nil
}

// Result codes the push receiver answers (table 6-252 leaves non-zero
// codes open; these are the CC-Gateway codes of table 6-449).
const (
	pushBadToken    = "100-001" // service_token absent, longer than 50 or with special characters (seed line 13616)
	pushNotAccepted = "000-003" // a well-formed service_token that is not the agent's
	pushBadBody     = "000-002"
)

// maxServiceToken is the longest service_token the seed allows.
const maxServiceToken = 50

// validServiceToken tells whether t is 1-50 letters and digits: the seed
// forbids "special characters" without listing them, so only these pass.
func validServiceToken(t string) bool {
	if t == "" || len(t) > maxServiceToken {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// newServiceToken is a fresh random service_token: 32 letters and digits.
func newServiceToken() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("huawei: no randomness: " + err.Error())
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// pushState is a push-mode session's service tokens and the events
// pushed before SignIn delivered the first state.
type pushState struct {
	mu        sync.Mutex
	token     string    // the newest token sent to CC-Gateway
	prev      string    // the one before, still accepted
	since     time.Time // when token was made
	confirmed bool      // CC-Gateway accepted token (sign-in or heartbeat)

	evMu    sync.Mutex // one pushed batch at a time, in order
	started bool       // guarded by evMu: events go to the sink
	pending []json.RawMessage
}

func newPushState(now time.Time) *pushState {
	return &pushState{token: newServiceToken(), since: now}
}

// current is the token to register (sign-in) or repeat.
func (p *pushState) current() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.token
}

// next is the token for a heartbeat at now: a new one once the current
// one is confirmed and every old. Until CC-Gateway confirms a new token it
// may push with either, so the previous one stays accepted.
func (p *pushState) next(now time.Time, every time.Duration) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.confirmed && now.Sub(p.since) >= every {
		p.prev, p.token, p.since, p.confirmed = p.token, newServiceToken(), now, false
	}
	return p.token
}

// confirm records that CC-Gateway accepted tok.
func (p *pushState) confirm(tok string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if tok == p.token {
		p.confirmed = true
	}
}

// accepts compares t with the tokens in force, in constant time.
func (p *pushState) accepts(t string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	ok := subtle.ConstantTimeCompare([]byte(t), []byte(p.token)) == 1
	if p.prev != "" {
		ok = subtle.ConstantTimeCompare([]byte(t), []byte(p.prev)) == 1 || ok
	}
	return ok
}

// register makes s the receiver of its work number's pushed events.
func (a *Adapter) register(s *session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pushed[s.c.workNo] = s
}

// unregister forgets s as a receiver (a newer session keeps its place).
func (a *Adapter) unregister(s *session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pushed[s.c.workNo] == s {
		delete(a.pushed, s.c.workNo)
	}
}

// PushHandler is the callback CC-Gateway pushes agent events to (seed
// 6.1.4.2), for a server to mount at PushPath; nil in poll mode. It
// answers the seed's envelope: retcode 0, or 100-001 for a malformed
// service_token and 000-003 for a token that is not the agent's.
func (a *Adapter) PushHandler() http.Handler {
	if a.cfg.Push == nil {
		return nil
	}
	return http.HandlerFunc(a.servePush)
}

// pushBody is a push request (tables 6-250, 6-251).
type pushBody struct {
	WorkNo    flexString        `json:"workNo"`
	EventList []json.RawMessage `json:"eventList"`
}

func (a *Adapter) servePush(w http.ResponseWriter, r *http.Request) {
	answer := func(rc, msg string) {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		_ = json.NewEncoder(w).Encode(map[string]string{"message": msg, "retcode": rc})
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	var body pushBody
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&body); err != nil {
		a.log.Warn("huawei: pushed events unreadable", "remote", r.RemoteAddr)
		answer(pushBadBody, "malformed body")
		return
	}
	tok := r.Header.Get("service_token")
	a.mu.Lock()
	s := a.pushed[body.WorkNo.String()]
	a.mu.Unlock()
	switch {
	case !validServiceToken(tok):
		a.log.Warn("huawei: push refused: service_token absent or malformed", "workno", body.WorkNo.String(), "remote", r.RemoteAddr)
		answer(pushBadToken, "invalid service_token")
		return
	case s == nil:
		// Also the goodbye of a session that was just closed.
		a.log.Debug("huawei: push for no push session", "workno", body.WorkNo.String(), "remote", r.RemoteAddr)
		answer(pushNotAccepted, "no permission")
		return
	case !s.push.accepts(tok):
		a.log.Warn("huawei: push refused: wrong service_token", "agent", s.c.agent, "remote", r.RemoteAddr)
		answer(pushNotAccepted, "no permission")
		return
	}
	s.pushed(body.EventList)
	answer("0", "success")
}

// pushed hands pushed events to the session in order, or keeps them until
// SignIn delivered the first state.
func (s *session) pushed(evs []json.RawMessage) {
	p := s.push
	p.evMu.Lock()
	defer p.evMu.Unlock()
	if !p.started {
		p.pending = append(p.pending, evs...)
		return
	}
	s.handlePushed(evs)
}

// startPushed delivers the events pushed during the sign-in and lets the
// next ones through.
func (s *session) startPushed() {
	p := s.push
	p.evMu.Lock()
	defer p.evMu.Unlock()
	p.started = true
	evs := p.pending
	p.pending = nil
	s.handlePushed(evs)
}

// handlePushed emits evs; after AgentOther_ShutdownService the heartbeat
// stops too. Caller holds push.evMu.
func (s *session) handlePushed(evs []json.RawMessage) {
	for _, raw := range evs {
		if s.handleRaw(raw) {
			s.cancel()
			return
		}
	}
}

// heartbeat keeps a push-mode session alive (seed 6.1.1.3): a handshake
// every Push.Heartbeat carrying the service_token (renewed every
// Push.TokenRefresh), the Guid rotation read from its answer; after a
// failure the next try comes sooner (ErrorBackoff, doubling up to the
// period). A lost session is signed in again as in poll mode.
func (s *session) heartbeat() {
	defer close(s.done)
	cfg := s.a.cfg
	path := "onlineagent/" + s.c.workNo + "/handshake"
	wait, backoff := cfg.Push.Heartbeat, cfg.ErrorBackoff
	for s.sleep(wait) {
		tok := s.push.next(cfg.Now(), cfg.Push.TokenRefresh)
		env, err := s.c.callTimeout(s.ctx, http.MethodPost, path, nil, nil, true, cfg.CallTimeout, http.Header{"service_token": {tok}})
		if s.ctx.Err() != nil {
			return
		}
		wait = cfg.Push.Heartbeat
		switch {
		case err != nil || (env.Retcode != "0" && !isFatalPollCode(env.Retcode.String())):
			if err == nil {
				s.a.log.Warn("huawei: heartbeat refused", "agent", s.c.agent, "retcode", env.Retcode.String())
			}
			wait, backoff = min(backoff, cfg.Push.Heartbeat), backoff*2
			continue
		case env.Retcode != "0":
			if !s.lost(env.Retcode.String()) {
				return
			}
		default:
			s.push.confirm(tok)
		}
		backoff = cfg.ErrorBackoff
	}
}
