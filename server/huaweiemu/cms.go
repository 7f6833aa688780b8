package huaweiemu

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// The CC-CMS resources the emulator provides, POST only, C2 auth: agent
// status by work numbers (seed 12.3.1.3.2, tables 12-459..12-462), skill
// statistics (12.3.1.2.6, tables 12-423..12-425) and the agents' day
// indicators (12.3.2.5, tables 12-543..12-546).
const (
	cmsAgentStatusPath = "/rest/cmsapp/v1/openapi/agentgroup/agentstatusinfobyagentids"
	cmsSkillStatePath  = "/rest/cmsapp/v1/openapi/skill/stateinfo"
	cmsAgentIndexPath  = "/rest/cmsapp/v1/openapi/hisindex/agent"
)

// cmsHandler answers one CMS resource whose request passed the checks.
type cmsHandler func(w http.ResponseWriter, r *http.Request, body []byte)

// cmsRoutes is the CMS resource table.
func (e *Emulator) cmsRoutes() map[string]cmsHandler {
	return map[string]cmsHandler{
		cmsAgentStatusPath: e.serveCMSAgentStatus,
		cmsSkillStatePath:  e.serveCMSSkillState,
		cmsAgentIndexPath:  e.serveCMSAgentIndexes,
	}
}

// cmsFail answers a CMS refusal.
func cmsFail(w http.ResponseWriter, desc string) {
	writeJSON(w, http.StatusOK, map[string]string{"result": "1", "resultCode": cmsFailed, "resultDesc": desc})
}

// cmsAnswer answers CMS rows in the current and the compatibility field.
func cmsAnswer(w http.ResponseWriter, rows any) {
	writeJSON(w, http.StatusOK, map[string]any{"result": "0", "resultCode": cmsOK, "resultDatas": rows, "resultDesc": rows})
}

// serveCMS checks the method and the auth-v2 signature (HTTP 401 when it
// fails) and hands the body to h.
func (e *Emulator) serveCMS(w http.ResponseWriter, r *http.Request, h cmsHandler) {
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
	h(w, r, body)
}

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
// the body.
func (e *Emulator) serveCMSAgentStatus(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		AgentIDs []json.Number `json:"agentIds"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.AgentIDs) == 0 || len(req.AgentIDs) > 6000 {
		cmsFail(w, "invalid agentIds")
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
	cmsAnswer(w, rows)
}

// serveCMSSkillState answers skill/stateinfo for the skillIds of the body
// (inside queryParam, as the seed's example; the table's flat fields and
// its "skilllds" spelling are accepted too). The agent counts are the
// emulator's own view of the agents serving each queue; the waiting calls
// come from the call center (queueWaiting) and are left out when it does
// not report them.
func (e *Emulator) serveCMSSkillState(w http.ResponseWriter, r *http.Request, body []byte) {
	type params struct {
		SkillIDs   []json.Number `json:"skillIds"`
		SkillLDs   []json.Number `json:"skilllds"`
		QueryParam *struct {
			SkillIDs []json.Number `json:"skillIds"`
			SkillLDs []json.Number `json:"skilllds"`
		} `json:"queryParam"`
	}
	var req params
	if err := json.Unmarshal(body, &req); err != nil {
		cmsFail(w, "invalid body")
		return
	}
	ids := append(req.SkillIDs, req.SkillLDs...)
	if q := req.QueryParam; q != nil {
		ids = append(append(ids, q.SkillIDs...), q.SkillLDs...)
	}
	if len(ids) == 0 || len(ids) > 1000 {
		cmsFail(w, "invalid skillIds")
		return
	}
	waiting := e.queueWaiting(r.Context())
	e.mu.Lock()
	rows := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		n, _ := strconv.Atoi(id.String())
		queue := e.queueOfSkill(id.String())
		row := map[string]any{"skillId": n}
		for _, k := range []string{"agentLoginNums", "agentTalkingNums", "agentIdleNums", "agentAvailableNums",
			"agentSetBusyNums", "agentRestNums", "agentWorkNums", "processingCallNums"} {
			row[k] = 0
		}
		for agent, s := range e.sessions {
			if s.ended || !slices.Contains(e.cfg.Agents[agent].Queues, queue) {
				continue
			}
			row["agentLoginNums"] = row["agentLoginNums"].(int) + 1
			key := map[gateway.AgentState]string{
				gateway.StateReady: "agentIdleNums", gateway.StateBusy: "agentTalkingNums",
				gateway.StateNotReady: "agentSetBusyNums", gateway.StateRest: "agentRestNums",
				gateway.StateWrapUp: "agentWorkNums",
			}[s.state]
			if s.work {
				key = "agentWorkNums"
			}
			if key != "" {
				row[key] = row[key].(int) + 1
			}
		}
		row["agentAvailableNums"] = row["agentIdleNums"]
		row["processingCallNums"] = row["agentTalkingNums"]
		if q, found := waiting[queue]; found {
			row["callWaitNums"] = q.Waiting
			row["maxCallWaitTimesIn5"] = q.LongestWait
		}
		rows = append(rows, row)
	}
	e.mu.Unlock()
	cmsAnswer(w, rows)
}

// queueWaiting asks the call center for its queues' figures through the
// agents' sessions that report statistics (gateway.StatsSource), by queue
// id; empty when none does.
func (e *Emulator) queueWaiting(ctx context.Context) map[string]gateway.QueueStats {
	e.mu.Lock()
	var srcs []gateway.StatsSource
	for _, s := range e.sessions {
		if src, found := s.gw.(gateway.StatsSource); found && !s.ended {
			srcs = append(srcs, src)
		}
	}
	e.mu.Unlock()
	out := map[string]gateway.QueueStats{}
	for _, src := range srcs {
		ctx, cancel := context.WithTimeout(ctx, opTimeout)
		st, err := src.Stats(ctx)
		cancel()
		if err != nil {
			continue
		}
		for _, q := range st.Queues {
			out[q.ID] = q
		}
	}
	return out
}

// The agent indicators the emulator counts (table 12-690).
const (
	idxConnected = "IDX_COUNT_AGENT_CONNECTED"      // inbound conversations
	idxCallIn    = "IDX_DURATION_AGENT_CALL_IN"     // their seconds
	idxCallOut   = "IDX_COUNT_AGENT_CALL_OUT"       // outbound conversations
	idxTalkOut   = "IDX_DURATION_AGENT_CALL_OUT"    // their seconds
	idxTotalOut  = "IDX_COUNT_TOTAL_AGENT_CALL_OUT" // calls dialled, connected or not
	idxNoAck     = "IDX_COUNT_AGENT_NO_ACK"         // offers not answered in time
)

// agentDay is one agent's calls of the day (UTC) as the indicators count
// them, from the call center's events. It is CMS's, so a CC-Gateway
// Restart keeps it.
type agentDay struct {
	day                          time.Time // midnight
	connected, callOut, totalOut int
	noAck                        int
	talkIn, talkOut              time.Duration
	talking                      map[string]time.Time // neutral call id -> answered at
}

// dayLocked is agent's record for today.
func (e *Emulator) dayLocked(agent string) *agentDay {
	now := e.now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	d := e.tally[agent]
	if d == nil || !d.day.Equal(day) {
		d = &agentDay{day: day, talking: map[string]time.Time{}}
		e.tally[agent] = d
	}
	return d
}

// tallyAnsweredLocked counts a conversation starting.
func (e *Emulator) tallyAnsweredLocked(agent string, c *gateway.CallInfo) {
	d := e.dayLocked(agent)
	if _, on := d.talking[c.ID]; on {
		return
	}
	d.talking[c.ID] = e.now()
	if c.Direction == "inbound" {
		d.connected++
	}
}

// tallyEndedLocked counts a call ending: its talk time, a dialled call, an
// offer not answered.
func (e *Emulator) tallyEndedLocked(agent string, ev gateway.Event) {
	d := e.dayLocked(agent)
	out := ev.Call.Direction == "outbound"
	if out {
		d.totalOut++
	}
	at, talked := d.talking[ev.Call.ID]
	delete(d.talking, ev.Call.ID)
	switch {
	case talked && out:
		d.callOut++
		d.talkOut += e.now().Sub(at)
	case talked:
		d.talkIn += e.now().Sub(at)
	case !out && (ev.Cause == "missed" || ev.Cause == "no_answer"):
		d.noAck++
	}
}

// serveCMSAgentIndexes answers hisindex/agent: today's value of each
// known indicator of indexIds for each agent (unknown ones are left out),
// as strings like the seed's example. With timeGrain the value is given
// for the current slot only.
func (e *Emulator) serveCMSAgentIndexes(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		AgentIDs  []json.Number `json:"agentIds"`
		IndexIDs  []string      `json:"indexIds"`
		TimeGrain string        `json:"timeGrain"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.AgentIDs) == 0 || len(req.AgentIDs) > 100 || len(req.IndexIDs) == 0 {
		cmsFail(w, "invalid agentIds or indexIds")
		return
	}
	grains := map[string]time.Duration{"": 0, "15MIN": 15 * time.Minute, "30MIN": 30 * time.Minute, "60MIN": time.Hour}
	g, goodGrain := grains[req.TimeGrain]
	if !goodGrain {
		cmsFail(w, "invalid timeGrain")
		return
	}
	e.mu.Lock()
	now := e.now().UTC()
	rows := make([]map[string]any, 0, len(req.AgentIDs))
	for _, id := range req.AgentIDs {
		d := e.dayLocked(id.String())
		vals := map[string]int64{
			idxConnected: int64(d.connected), idxCallIn: int64(d.talkIn / time.Second),
			idxCallOut: int64(d.callOut), idxTalkOut: int64(d.talkOut / time.Second),
			idxTotalOut: int64(d.totalOut), idxNoAck: int64(d.noAck),
		}
		var idxs []map[string]any
		for _, ix := range req.IndexIDs {
			v, known := vals[ix]
			if !known {
				continue
			}
			var val any = strconv.FormatInt(v, 10)
			if g > 0 {
				val = map[string]any{now.Truncate(g).Format("2006-01-02 15:04:05.0"): val}
			}
			idxs = append(idxs, map[string]any{"id": ix, "val": val})
		}
		rows = append(rows, map[string]any{"id": id.String(), "idxs": idxs})
	}
	e.mu.Unlock()
	cmsAnswer(w, rows)
}
