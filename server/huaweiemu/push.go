package huaweiemu

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// pushRetry is the pause before a refused or failed push is tried again.
const pushRetry = time.Second

// validServiceToken tells whether t is 1-50 letters and digits: the seed
// forbids "special characters" (answering 100-001) without listing them
// (lines 6893, 7205).
func validServiceToken(t string) bool {
	if t == "" || len(t) > 50 {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// pushMode reads the sign-in's push parameters: push mode needs both
// callbackUri and serviceToken (seed line 6896); good is false when they
// are there but invalid (100-001).
func pushMode(body map[string]any) (callback, token string, good bool) {
	callback, _ = str(body, "callbackUri")
	token, _ = str(body, "serviceToken")
	if callback == "" || token == "" {
		return "", "", true
	}
	u, err := url.Parse(callback)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(callback) > 200 || !validServiceToken(token) {
		return "", "", false
	}
	return callback, token, true
}

// handleHandshake is POST onlineagent/{agentid}/handshake, the push-mode
// heartbeat (seed 6.1.1.3): it keeps the agent signed in, adopts the
// service_token header if any (100-001 when malformed) and hands out a
// rotated Guid in the Guid response header (seed line 7204).
func (e *Emulator) handleHandshake(w http.ResponseWriter, r *http.Request, agent string, _ []string) {
	s, code := e.authorize(r, agent, false)
	if code != "" {
		fail(w, code, "agent not signed in or Guid invalid")
		return
	}
	tok := r.Header.Get("service_token")
	if tok != "" && !validServiceToken(tok) {
		fail(w, codeSignInParam, "invalid service_token")
		return
	}
	e.mu.Lock()
	if s.callback == "" {
		e.mu.Unlock()
		fail(w, codeEventMethod, "the agent signed in for event polling")
		return
	}
	s.lastPoll = e.now()
	if tok != "" {
		s.token = tok
	}
	announce := e.rotateLocked(s, strings.TrimSpace(r.Header.Get("Guid")))
	e.mu.Unlock()
	if announce != "" {
		w.Header().Set("Guid", announce)
	}
	writeJSON(w, http.StatusOK, failure{Message: "success", Retcode: codeOK})
}

// deliver pushes s's queued events to its callbackUri until the session
// ends and its queue is empty (the goodbye included). A batch holds every
// event queued, oldest first (table 6-250); one the receiver refuses is
// tried again after pushRetry, except once the session ended.
func (e *Emulator) deliver(s *session) {
	defer e.wg.Done()
	for {
		e.mu.Lock()
		batch := append([]hwEvent(nil), s.queue...)
		ended, wake, guid, token := s.ended, s.wake, s.guid, s.token
		e.mu.Unlock()
		if len(batch) == 0 {
			if ended {
				return
			}
			select {
			case <-wake:
				continue
			case <-e.done:
				return
			}
		}
		if e.post(s, batch, guid, token) {
			e.mu.Lock()
			if len(s.queue) >= len(batch) {
				s.queue = s.queue[len(batch):]
			}
			e.mu.Unlock()
			continue
		}
		if ended {
			return
		}
		select {
		case <-time.After(pushRetry):
		case <-e.done:
			return
		}
	}
}

// post sends one batch; true when the receiver answered retcode 0.
func (e *Emulator) post(s *session, batch []hwEvent, guid, token string) bool {
	raw, err := json.Marshal(map[string]any{"workNo": s.agent, "eventList": batch})
	if err != nil {
		return false
	}
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, s.callback, bytes.NewReader(raw))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("Guid", guid)
	req.Header["service_token"] = []string{token} // the seed's spelling, as sent
	res, err := e.cfg.PushClient.Do(req)
	if err != nil {
		e.log.Info("huaweiemu: push failed", "agent", s.agent, "events", len(batch), "err", redact(err, s.callback))
		return false
	}
	defer res.Body.Close()
	var ans struct {
		Retcode string `json:"retcode"`
	}
	_ = json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&ans)
	if res.StatusCode != http.StatusOK || ans.Retcode != codeOK {
		e.log.Info("huaweiemu: push refused", "agent", s.agent, "status", res.StatusCode, "retcode", ans.Retcode)
		return false
	}
	return true
}

// redact is err's text without the callback URL's query (it is the
// client's, and may carry anything).
func redact(err error, callback string) string {
	msg := err.Error()
	if i := strings.IndexByte(callback, '?'); i >= 0 {
		msg = strings.ReplaceAll(msg, callback[i:], "")
	}
	return msg
}
