package huaweiemu

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// resourcePrefix is where the CC-Gateway agent resources live.
const resourcePrefix = "/agentgateway/resource/"

// maxBody bounds a request body (call data may be 16 KB).
const maxBody = 64 << 10

// reply is the CC-Gateway response envelope with a result.
type reply struct {
	Message string `json:"message"`
	Retcode string `json:"retcode"`
	Result  any    `json:"result"`
}

// failure is the envelope of a refusal: no result key.
type failure struct {
	Message string `json:"message"`
	Retcode string `json:"retcode"`
}

// pollReply is the agentevent envelope.
type pollReply struct {
	Message string   `json:"message"`
	Retcode string   `json:"retcode"`
	Event   *hwEvent `json:"event"`
}

// writeJSON answers v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ok answers success with result.
func ok(w http.ResponseWriter, result any) {
	writeJSON(w, http.StatusOK, reply{Message: "success", Retcode: codeOK, Result: result})
}

// fail answers a business refusal (HTTP 200, as in every seed example).
func fail(w http.ResponseWriter, code, msg string) {
	writeJSON(w, http.StatusOK, failure{Message: msg, Retcode: code})
}

// handler serves one operation for the agent in the path; args are the
// path segments after the operation name.
type handler func(w http.ResponseWriter, r *http.Request, agent string, args []string)

// route is one operation: its only method, whether it needs a Guid, how
// many extra path segments it takes, and its handler.
type route struct {
	method string
	open   bool // no Guid (sign-in)
	self   bool // the handler checks the Guid itself (event poll, heartbeat)
	query  bool // under the per-agent query flow control
	nargs  int
	h      handler
}

// ServeHTTP serves the CC-Gateway resources and the CC-CMS resources.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, found := e.cmsTable[r.URL.Path]; found {
		e.serveCMS(w, r, h)
		return
	}
	rest, found := strings.CutPrefix(r.URL.Path, resourcePrefix)
	if !found {
		writeJSON(w, http.StatusNotFound, failure{Message: "no such resource", Retcode: codeURLNotFound})
		return
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	if len(parts) < 2 || parts[1] == "" {
		writeJSON(w, http.StatusNotFound, failure{Message: "no such resource", Retcode: codeURLNotFound})
		return
	}
	resource, agent, tail := parts[0], parts[1], parts[2:]
	// The seed misspells voicecall twice over; accept its spellings.
	if resource == "voicercall" || resource == "voicerecall" {
		resource = "voicecall"
	}
	name := ""
	if len(tail) > 0 {
		name, tail = tail[0], tail[1:]
	}
	rt, found := e.table[resource+"/"+name]
	if !found || len(tail) != rt.nargs {
		writeJSON(w, http.StatusNotFound, failure{Message: "no such resource", Retcode: codeURLNotFound})
		return
	}
	if r.Method != rt.method {
		w.Header().Set("Allow", rt.method)
		writeJSON(w, http.StatusMethodNotAllowed, failure{Message: "method not supported", Retcode: codeBadParam})
		return
	}
	if !rt.open && !rt.self {
		// Only event polls and heartbeats keep an agent signed in (seed
		// lines 6832, 7175).
		if _, code := e.authorize(r, agent, false); code != "" {
			fail(w, code, "agent not signed in or Guid invalid")
			return
		}
	}
	if rt.query && !e.allowQuery(agent) {
		e.log.Info("huaweiemu: query flow control", "agent", agent, "op", resource+"/"+name)
		fail(w, codeOverload, "query message overload")
		return
	}
	rt.h(w, r, agent, tail)
}

// readBody decodes a JSON object body leniently: absent or empty is an
// empty object.
func readBody(r *http.Request) (map[string]any, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if strings.TrimSpace(string(b)) == "" {
		return m, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// str is a scalar field as a string (the seed mixes strings and numbers).
func str(m map[string]any, key string) (string, bool) {
	v, found := m[key]
	if !found || v == nil {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return fmt.Sprint(v), true
}

// boolField is a boolean field given as a bool or a string; def when absent.
func boolField(m map[string]any, key string, def bool) (bool, bool) {
	s, found := str(m, key)
	if !found || s == "" {
		return def, true
	}
	b, err := strconv.ParseBool(s)
	return b, err == nil
}

// intField is an integer field given as a number or a string; def when absent.
func intField(m map[string]any, key string, def int) (int, bool) {
	s, found := str(m, key)
	if !found || s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// Per-agent flow control of the query operations: 5 in 2 s, the seed's
// default (line 12065-12066, extended by line 21334-21346); beyond it the
// answer is 999-002 ("query message overload", the spec's reading). The
// system-wide limit (15000 in 2 s) is not emulated.
const (
	queryLimit  = 5
	queryWindow = 2 * time.Second
)

// allowQuery counts one query of agent, false when it is over the limit
// (a refused query does not count).
func (e *Emulator) allowQuery(agent string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	q := e.queries[agent]
	for len(q) > 0 && now.Sub(q[0]) >= queryWindow {
		q = q[1:]
	}
	if len(q) >= queryLimit {
		e.queries[agent] = q
		return false
	}
	e.queries[agent] = append(q, now)
	return true
}
