package server

import (
	"crypto/subtle"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/agentbar/agentbar/proxy/control/wire"
	"github.com/agentbar/agentbar/server/config"
)

// directory checks agents' sign-in passwords for the standalone and kiosk
// pages (a CRM backend mints its own JWT instead).
type directory struct {
	agents map[string]config.Agent
	dummy  []byte // a bcrypt hash compared against for unknown agents, so timing does not tell who exists
}

func newDirectory(agents []config.Agent) *directory {
	d := &directory{agents: map[string]config.Agent{}}
	for _, a := range agents {
		d.agents[a.ID] = a
	}
	d.dummy, _ = bcrypt.GenerateFromPassword([]byte("no such agent"), bcrypt.MinCost)
	return d
}

// check tells whether password is the agent's.
func (d *directory) check(agent, password string) (config.Agent, bool) {
	a, ok := d.agents[agent]
	switch {
	case !ok:
		bcrypt.CompareHashAndPassword(d.dummy, []byte(password))
		return a, false
	case a.PasswordHash != "":
		return a, bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte(password)) == nil
	default:
		return a, subtle.ConstantTimeCompare([]byte(a.Password), []byte(password)) == 1
	}
}

// tokenIssuer issues the proxy's own JWTs.
type tokenIssuer interface {
	Issue(agent, name string) (token string, expires time.Time, err error)
}

// sessionRequest is the body of POST /v1/session.
type sessionRequest struct {
	Agent    string `json:"agent"`
	Password string `json:"password"`
}

// sessionResponse is its answer: the token, and where the agent's phone
// registers (no secret), so that the page can start it at once.
type sessionResponse struct {
	Token   string          `json:"token"`
	Expires time.Time       `json:"expires"`
	Agent   string          `json:"agent"`
	Name    string          `json:"name,omitempty"`
	SIP     wire.SIPAddress `json:"sip"`
}

// apiError is the body of every API error: a stable code and a message.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Code: code, Message: msg})
}

// Sign-in throttling: per agent id, 5 failures, then one more every 20 s;
// per client address (which many agents may share behind a NAT or a
// reverse proxy), 30 failures, then one every 2 s.
const (
	agentBurst, agentEvery = 5, 20 * time.Second
	addrBurst, addrEvery   = 30, 2 * time.Second
)

// handleSession signs an agent in with id and password and returns a
// short-lived JWT for the control channel and the SIP edge. Repeated
// failures for one agent or from one address are answered 429 with
// Retry-After, before the password is checked.
func handleSession(dir *directory, iss tokenIssuer, sipAddr func(agent string) wire.SIPAddress, now func() time.Time) http.HandlerFunc {
	agents := newThrottle(agentBurst, agentEvery, now)
	addrs := newThrottle(addrBurst, addrEvery, now)
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
			return
		}
		var req sessionRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || req.Agent == "" || req.Password == "" {
			writeError(w, http.StatusBadRequest, "bad_request", `send {"agent":"...","password":"..."}`)
			return
		}
		addr := clientAddr(r)
		if wait := max(agents.wait(req.Agent), addrs.wait(addr)); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			writeError(w, http.StatusTooManyRequests, "too_many_attempts", "too many failed sign-ins: try again later")
			return
		}
		a, ok := dir.check(req.Agent, req.Password)
		if !ok {
			agents.fail(req.Agent)
			addrs.fail(addr)
			writeError(w, http.StatusUnauthorized, "unknown_agent", "unknown agent or wrong password")
			return
		}
		agents.succeed(req.Agent)
		tok, exp, err := iss.Issue(a.ID, a.Name)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internal", "could not issue a token")
			return
		}
		writeJSON(w, http.StatusOK, sessionResponse{Token: tok, Expires: exp, Agent: a.ID, Name: a.Name, SIP: sipAddr(a.ID)})
	}
}

// clientAddr is the client's IP address (without the port). Forwarding
// headers are not trusted: anyone can send them.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
