package huawei

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// CMS statistics paths (seed ch. 12).
const (
	cmsAgentStatusPath = "/rest/cmsapp/v1/openapi/agentgroup/agentstatusinfobyagentids"
	cmsSkillStatePath  = "/rest/cmsapp/v1/openapi/skill/stateinfo"
	cmsAgentIndexPath  = "/rest/cmsapp/v1/openapi/hisindex/agent"
)

// cmsNotSignedInLogon is the logonTime CMS reports for an agent that is not
// signed in (a date in 2106).
const cmsNotSignedInLogon = 4294967295000

// CMSAgentStatus is one agent's monitoring row (table 12-462).
type CMSAgentStatus struct {
	AgentID int
	// CurrentState and PrevState are CTI platform states (table 6-453):
	// 0 signed out, 1 idle, 2 pre-occupied, 3 occupied, 4 ringing,
	// 5 talking, 6 wrap-up, 7 busy, 8 rest, 9 training.
	CurrentState, PrevState int
	// CurrentStateReason is the rest reason (meaningful in rest only).
	CurrentStateReason int
	// CurrentStateTime and PrevStateTime are how long the states lasted.
	CurrentStateTime, PrevStateTime time.Duration
	// LogonTime is the sign-in time; zero when not signed in.
	LogonTime time.Time
	// AgentRelease counts the calls the agent hung up.
	AgentRelease int
	// PrivateCalls is the agent's current number of private calls.
	PrivateCalls int
}

// State is the neutral agent state of CurrentState.
func (s CMSAgentStatus) State() gateway.AgentState {
	switch s.CurrentState {
	case 0:
		return gateway.StateSignedOut
	case 1:
		return gateway.StateReady
	case 2, 3, 4, 5:
		return gateway.StateBusy
	case 6:
		return gateway.StateWrapUp
	case 8:
		return gateway.StateRest
	}
	return gateway.StateNotReady
}

// CMSSkillStats is one queue's real-time figures (table 12-425).
type CMSSkillStats struct {
	SkillID int
	// Agents signed in, talking, idle, available, set busy, resting and
	// in wrap-up.
	AgentsSignedIn, AgentsTalking, AgentsIdle int
	AgentsAvailable, AgentsBusy, AgentsRest   int
	AgentsWrapUp                              int
	// Calls handled (including current), being handled and waiting.
	CallsTotal, CallsProcessing, CallsWaiting int
	// MaxWaitIn5, AvgTalkIn5 and AvgWaitIn5 cover the last 5 minutes, as
	// CMS reports them (the seed gives no unit).
	MaxWaitIn5, AvgTalkIn5, AvgWaitIn5 int
	// CallsIn5 and AnsweredWithin20sIn5 count the last 5 minutes' calls.
	CallsIn5, AnsweredWithin20sIn5 int
}

// cmsRows reads the rows of a CMS answer: resultDesc when it is the array
// (current versions), else resultDatas (compatibility field).
func cmsRows(raw []byte) []json.RawMessage {
	var env struct {
		ResultDesc  json.RawMessage   `json:"resultDesc"`
		ResultDatas []json.RawMessage `json:"resultDatas"`
	}
	if json.Unmarshal(raw, &env) != nil {
		return nil
	}
	var rows []json.RawMessage
	if json.Unmarshal(env.ResultDesc, &rows) == nil && rows != nil {
		return rows
	}
	return env.ResultDatas
}

func flexInt(f flexString) int {
	n, _ := f.Int()
	return int(n)
}

func flexSeconds(f flexString) time.Duration {
	n, _ := f.Int()
	return time.Duration(n) * time.Second
}

// AgentStatuses asks CMS for the monitoring rows of the given work numbers
// (at most 6000). The body follows table 12-460 and the seed's example
// (no queryParam wrapper for this operation).
func (c *CMSClient) AgentStatuses(ctx context.Context, workNos []int) ([]CMSAgentStatus, error) {
	if len(workNos) == 0 || len(workNos) > 6000 {
		return nil, gateway.Errorf(gateway.CodeBadRequest, "1-6000 work numbers per query / 每次查询 1-6000 个工号")
	}
	var raw json.RawMessage
	body := map[string]any{"cclid": c.ccid, "vdn": c.vdn, "agentIds": workNos}
	if err := c.Post(ctx, cmsAgentStatusPath, body, &raw); err != nil {
		return nil, err
	}
	var out []CMSAgentStatus
	for _, r := range cmsRows(raw) {
		var row struct {
			AgentID               flexString `json:"agentId"`
			CurrentState          flexString `json:"currentState"`
			PrevState             flexString `json:"prevState"`
			CurrentStateReason    flexString `json:"currentStateReason"`
			CurrentStateTime      flexString `json:"currentStateTime"`
			PrevStateTime         flexString `json:"prevStateTime"`
			LogonTime             flexString `json:"logonTime"`
			AgentRelease          flexString `json:"agentRelease"`
			CurrentPrivateCallNum flexString `json:"currentPrivateCallNum"`
		}
		if json.Unmarshal(r, &row) != nil {
			continue
		}
		st := CMSAgentStatus{
			AgentID: flexInt(row.AgentID), CurrentState: flexInt(row.CurrentState), PrevState: flexInt(row.PrevState),
			CurrentStateReason: flexInt(row.CurrentStateReason), CurrentStateTime: flexSeconds(row.CurrentStateTime),
			PrevStateTime: flexSeconds(row.PrevStateTime), AgentRelease: flexInt(row.AgentRelease),
			PrivateCalls: flexInt(row.CurrentPrivateCallNum),
		}
		if ms, ok := row.LogonTime.Int(); ok && ms > 0 && ms != cmsNotSignedInLogon {
			st.LogonTime = time.UnixMilli(ms)
		}
		out = append(out, st)
	}
	return out, nil
}

// SkillStats asks CMS for the real-time figures of the given queues (at
// most 1000). The body follows the seed's example: a queryParam wrapper
// with cclid, vdn and skillIds (the table prints "skilllds").
func (c *CMSClient) SkillStats(ctx context.Context, skillIDs []int) ([]CMSSkillStats, error) {
	if len(skillIDs) == 0 || len(skillIDs) > 1000 {
		return nil, gateway.Errorf(gateway.CodeBadRequest, "1-1000 queues per query / 每次查询 1-1000 个技能队列")
	}
	var raw json.RawMessage
	body := map[string]any{"queryParam": map[string]any{"cclid": c.ccid, "vdn": c.vdn, "skillIds": skillIDs}}
	if err := c.Post(ctx, cmsSkillStatePath, body, &raw); err != nil {
		return nil, err
	}
	var out []CMSSkillStats
	for _, r := range cmsRows(raw) {
		var row struct {
			SkillID             flexString `json:"skillId"`
			AgentLoginNums      flexString `json:"agentLoginNums"`
			AgentTalkingNums    flexString `json:"agentTalkingNums"`
			AgentIdleNums       flexString `json:"agentIdleNums"`
			AgentAvailableNums  flexString `json:"agentAvailableNums"`
			AgentSetBusyNums    flexString `json:"agentSetBusyNums"`
			AgentRestNums       flexString `json:"agentRestNums"`
			AgentWorkNums       flexString `json:"agentWorkNums"`
			TotalCallNums       flexString `json:"totalCallNums"`
			ProcessingCallNums  flexString `json:"processingCallNums"`
			CallWaitNums        flexString `json:"callWaitNums"`
			MaxCallWaitTimesIn5 flexString `json:"maxCallWaitTimesIn5"`
			EvenCallTimeIn5     flexString `json:"evenCallTimeIn5"`
			EvenWaitTimeIn5     flexString `json:"evenWaitTimeIn5"`
			AllCallCount        flexString `json:"allCallCount"`
			CnndIn20sCallCount  flexString `json:"cnndIn20sCallCount"`
		}
		if json.Unmarshal(r, &row) != nil {
			continue
		}
		out = append(out, CMSSkillStats{
			SkillID: flexInt(row.SkillID), AgentsSignedIn: flexInt(row.AgentLoginNums),
			AgentsTalking: flexInt(row.AgentTalkingNums), AgentsIdle: flexInt(row.AgentIdleNums),
			AgentsAvailable: flexInt(row.AgentAvailableNums), AgentsBusy: flexInt(row.AgentSetBusyNums),
			AgentsRest: flexInt(row.AgentRestNums), AgentsWrapUp: flexInt(row.AgentWorkNums),
			CallsTotal: flexInt(row.TotalCallNums), CallsProcessing: flexInt(row.ProcessingCallNums),
			CallsWaiting: flexInt(row.CallWaitNums), MaxWaitIn5: flexInt(row.MaxCallWaitTimesIn5),
			AvgTalkIn5: flexInt(row.EvenCallTimeIn5), AvgWaitIn5: flexInt(row.EvenWaitTimeIn5),
			CallsIn5: flexInt(row.AllCallCount), AnsweredWithin20sIn5: flexInt(row.CnndIn20sCallCount),
		})
	}
	return out, nil
}

// AgentDayIndexes asks CMS for today's value of each indicator (table
// 12-690, e.g. IDX_COUNT_AGENT_CONNECTED) for at most 100 work numbers
// (seed 12.3.2.5, table 12-543). Without timeGrain CMS counts the VDN's
// day so far; a value given per time slot (the seed's example shape) is
// summed. The result maps work number to indicator to value.
func (c *CMSClient) AgentDayIndexes(ctx context.Context, workNos []int, indexIDs []string) (map[int]map[string]int64, error) {
	if len(workNos) == 0 || len(workNos) > 100 || len(indexIDs) == 0 {
		return nil, gateway.Errorf(gateway.CodeBadRequest, "1-100 work numbers and some indicators per query / 每次查询 1-100 个工号")
	}
	var raw json.RawMessage
	body := map[string]any{"cclid": c.ccid, "vdn": c.vdn, "agentIds": workNos, "indexIds": indexIDs}
	if err := c.Post(ctx, cmsAgentIndexPath, body, &raw); err != nil {
		return nil, err
	}
	out := map[int]map[string]int64{}
	for _, r := range cmsRows(raw) {
		var row struct {
			ID   flexString `json:"id"`
			Idxs []struct {
				ID  string          `json:"id"`
				Val json.RawMessage `json:"val"`
			} `json:"idxs"`
		}
		if json.Unmarshal(r, &row) != nil {
			continue
		}
		id, ok := row.ID.Int()
		if !ok {
			continue
		}
		vals := map[string]int64{}
		for _, x := range row.Idxs {
			if v, ok := indexValue(x.Val); ok {
				vals[x.ID] = v
			}
		}
		out[int(id)] = vals
	}
	return out, nil
}

// indexValue reads an indicator value: a number or numeric string, or an
// object of time slot -> number or string, summed. Fractions are cut.
func indexValue(raw json.RawMessage) (int64, bool) {
	var f flexString
	if json.Unmarshal(raw, &f) == nil {
		if n, ok := f.Int(); ok {
			return n, true
		}
		v, err := strconv.ParseFloat(f.String(), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, false
		}
		return int64(v), true
	}
	var slots map[string]flexString
	if json.Unmarshal(raw, &slots) != nil {
		return 0, false
	}
	var sum int64
	for _, s := range slots {
		if n, ok := indexValue(json.RawMessage(strconv.Quote(s.String()))); ok {
			sum += n
		}
	}
	return sum, true
}
