package huaweiemu

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// cmsAgentStatusPath is the CC-CMS resource the emulator provides:
// agent status by work numbers (seed 12.3.1.3.2, tables 12-459..12-462),
// POST only, C2 auth.
const cmsAgentStatusPath = "/rest/cmsapp/v1/openapi/agentgroup/agentstatusinfobyagentids"

// CC-CMS result codes.
const (
	cmsOK     = "0100000"
	cmsFailed = "0100001" // [inference] the seed's error table is not in the spec
)

// notSignedInLogon is the logonTime the seed shows for an agent that is
// not signed in (a date in 2106).
const notSignedInLogon = int64(4294967295000)

// cmsAgent is the monitoring view of one agent.
type cmsAgent struct {
	logon     time.Time
	state     int // CTI platform state, table 6-453
	since     time.Time
	reason    int
	prev      int
	prevSince time.Time
	prevDur   time.Duration
}

// ctiState maps a neutral state to table 6-453.
func ctiState(st gateway.AgentState) int {
	switch st {
	case gateway.StateReady:
		return 1
	case gateway.StateBusy:
		return 5
	case gateway.StateWrapUp:
		return 6
	case gateway.StateNotReady:
		return 7
	case gateway.StateRest:
		return 8
	}
	return 0
}

// cmsSignedInLocked records a sign-in.
func (e *Emulator) cmsSignedInLocked(agent string, now time.Time) {
	a := e.cms[agent]
	if a == nil {
		a = &cmsAgent{since: now, prevSince: now}
		e.cms[agent] = a
	}
	a.logon = now
}

// cmsSetLocked moves agent's monitoring state.
func (e *Emulator) cmsSetLocked(agent string, state, reason int) {
	a := e.cms[agent]
	now := e.now()
	if a == nil {
		a = &cmsAgent{since: now}
		e.cms[agent] = a
	}
	if a.state != state {
		a.prev, a.prevDur, a.prevSince = a.state, now.Sub(a.since), a.since
		a.state, a.since = state, now
	}
	a.reason = reason
}

// cmsStateLocked records a neutral state change.
func (e *Emulator) cmsStateLocked(agent string, st gateway.AgentState, reason string) {
	code := 65535
	if st == gateway.StateRest {
		code, _ = strconv.Atoi(e.restCauseCode(reason))
	}
	e.cmsSetLocked(agent, ctiState(st), code)
}

// cmsSignedOutLocked records a sign-out.
func (e *Emulator) cmsSignedOutLocked(agent string) {
	e.cmsSetLocked(agent, 0, 65535)
	if a := e.cms[agent]; a != nil {
		a.logon = time.Time{}
	}
}

// serveCMSAgentStatus answers the agent status query for the agentIds of
// the body, after checking the auth-v2 signature (HTTP 401 if it fails).
func (e *Emulator) serveCMSAgentStatus(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"result": "1", "resultCode": cmsFailed})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"result": "1", "resultCode": cmsFailed})
		return
	}
	if why, good := verifyAuthV2(r, body, e.cfg.AKSK, e.now(), e.cfg.SignatureSkew); !good {
		e.log.Info("huaweiemu: CMS request refused", "why", why, "path", r.URL.Path)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var req struct {
		AgentIDs []json.Number `json:"agentIds"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.AgentIDs) == 0 || len(req.AgentIDs) > 6000 {
		writeJSON(w, http.StatusOK, map[string]string{"result": "1", "resultCode": cmsFailed, "resultDesc": "invalid agentIds"})
		return
	}
	now := e.now()
	e.mu.Lock()
	rows := make([]map[string]any, 0, len(req.AgentIDs))
	for _, id := range req.AgentIDs {
		n, _ := strconv.Atoi(id.String())
		row := map[string]any{
			"agentId": n, "locationId": 65535, "currentStateReason": 65535,
			"prevState": 0, "prevStateTime": 4294967295, "currentState": 0,
			"currentStateTime": 0, "logonTime": notSignedInLogon, "agentRelease": 0,
			"currentPrivateCallNum": 0,
		}
		if a := e.cms[id.String()]; a != nil {
			row["currentStateReason"] = a.reason
			row["prevState"] = a.prev
			row["prevStateTime"] = int64(a.prevDur / time.Second)
			row["currentState"] = a.state
			row["currentStateTime"] = int64(now.Sub(a.since) / time.Second)
			if !a.logon.IsZero() {
				row["logonTime"] = a.logon.UnixMilli()
			}
		}
		rows = append(rows, row)
	}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"result": "0", "resultCode": cmsOK, "resultDatas": rows, "resultDesc": rows})
}
