package huawei

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

var _ gateway.StatsSource = (*session)(nil)

// agentIndexes are the CMS indicators (table 12-690) of AgentStats.
var agentIndexes = []string{
	"IDX_COUNT_AGENT_CONNECTED",      // inbound conversations: Answered
	"IDX_DURATION_AGENT_CALL_IN",     // seconds: TalkTime
	"IDX_DURATION_AGENT_CALL_OUT",    // seconds: TalkTime
	"IDX_COUNT_TOTAL_AGENT_CALL_OUT", // calls dialled, connected or not: Outbound
	"IDX_COUNT_AGENT_NO_ACK",         // offers not answered in time: Missed
}

// statsForget is how long an agent or skill stays in the shared refresh
// after its bar last asked.
const statsForget = time.Minute

// skill is one of the agent's skills (agentskills, seed 6.1.1.5).
type skill struct {
	id   int
	name string
}

// Stats implements gateway.StatsSource: the waiting calls and idle agents
// of the agent's skills (CMS skill/stateinfo) and the agent's day so far
// (CMS hisindex/agent), read through the adapter's shared cache. The
// skills are the agent's configured ones (agentskills, asked once per
// session), narrowed to the queues chosen at sign-in if any.
func (s *session) Stats(ctx context.Context) (gateway.Stats, error) {
	if s.a.stats == nil {
		return gateway.Stats{}, gateway.Errorf(gateway.CodeUnsupported, "no CMS statistics configured / 未配置 CMS 统计")
	}
	if s.isEnded() {
		return gateway.Stats{}, gateway.Errorf(gateway.CodeSessionLost, "the agent is signed out / 座席已签出")
	}
	skills, err := s.agentSkills(ctx)
	if err != nil {
		return gateway.Stats{}, err
	}
	ids := make([]int, len(skills))
	for i, k := range skills {
		ids[i] = k.id
	}
	workNo, _ := strconv.Atoi(s.c.workNo) // checked by New
	f, err := s.a.stats.get(ctx, workNo, ids)
	if err != nil {
		return gateway.Stats{}, err
	}
	st := gateway.Stats{Time: f.read, Agent: f.agent}
	for _, k := range skills {
		q := gateway.QueueStats{ID: strconv.Itoa(k.id), Name: k.name}
		if sk, ok := f.skills[k.id]; ok {
			q.Waiting, q.Ready = sk.CallsWaiting, sk.AgentsIdle
		}
		st.Queues = append(st.Queues, q)
	}
	return st, nil
}

// agentSkills reads the agent's skills once (a flow-controlled query).
func (s *session) agentSkills(ctx context.Context) ([]skill, error) {
	s.mu.Lock()
	cached := s.skills
	s.mu.Unlock()
	if cached != nil {
		return cached, nil
	}
	env, err := s.c.call(ctx, http.MethodGet, "onlineagent/"+s.c.workNo+"/agentskills", nil, nil, true)
	if err != nil {
		return nil, err
	}
	if rc := env.Retcode.String(); rc != "0" {
		return nil, codeFor(s.a.codes, rc, "skills")
	}
	var rows []struct {
		ID   flexString `json:"id"`
		Name flexString `json:"name"`
	}
	if err := json.Unmarshal(env.Result, &rows); err != nil && len(env.Result) > 0 && string(env.Result) != "null" {
		return nil, gateway.Errorf(gateway.CodeUnavailable, "agent skills unreadable / 座席技能无法解析")
	}
	out := []skill{}
	for _, r := range rows {
		id, ok := r.ID.Int()
		if ok && (len(s.queues) == 0 || slices.Contains(s.queues, r.ID.String())) {
			out = append(out, skill{id: int(id), name: r.Name.String()})
		}
	}
	s.mu.Lock()
	s.skills = out
	s.mu.Unlock()
	return out, nil
}

// statsBoard is the adapter's cache of CMS figures. A refresh reads the
// figures of every agent and skill asked for in the last statsForget in
// batches (100 agents, 1000 skills a request), so CMS sees a few requests
// per TTL however many bars ask; one refresh runs at a time.
type statsBoard struct {
	cms *CMSClient
	now func() time.Time
	ttl time.Duration

	mu      sync.Mutex
	asked   map[int]time.Time // work number -> when its bar last asked
	askedSk map[int]time.Time // skill id -> when last asked for
	read    time.Time         // when the figures below were read
	agents  map[int]gateway.AgentStats
	skills  map[int]CMSSkillStats
	covered map[int]bool  // work numbers the last refresh asked for
	coverSk map[int]bool  // skills the last refresh asked for
	busy    chan struct{} // closed when the refresh under way ends
	err     error         // the last refresh's failure, reused within ttl
	errAt   time.Time
}

// statsFigures is one agent's share of the board.
type statsFigures struct {
	read   time.Time
	agent  *gateway.AgentStats // nil when CMS has no row for the agent
	skills map[int]CMSSkillStats
}

func newStatsBoard(cms *CMSClient, now func() time.Time, ttl time.Duration) *statsBoard {
	return &statsBoard{cms: cms, now: now, ttl: ttl, asked: map[int]time.Time{}, askedSk: map[int]time.Time{}}
}

// get returns the figures of workNo and skills, refreshing the board
// when they are older than the TTL or not on it yet.
func (b *statsBoard) get(ctx context.Context, workNo int, skills []int) (statsFigures, error) {
	for {
		b.mu.Lock()
		now := b.now()
		b.asked[workNo] = now
		for _, id := range skills {
			b.askedSk[id] = now
		}
		fresh := now.Sub(b.read) < b.ttl && b.covered[workNo]
		for _, id := range skills {
			fresh = fresh && b.coverSk[id]
		}
		switch {
		case fresh:
			defer b.mu.Unlock()
			return b.figures(workNo, skills), nil
		case b.err != nil && now.Sub(b.errAt) < b.ttl:
			err := b.err
			b.mu.Unlock()
			return statsFigures{}, err
		case b.busy != nil:
			busy := b.busy
			b.mu.Unlock()
			select {
			case <-busy:
				continue
			case <-ctx.Done():
				return statsFigures{}, gateway.Errorf(gateway.CodeUnavailable, "statistics not read in time / 统计数据读取超时")
			}
		}
		b.busy = make(chan struct{})
		agents, sks := wanted(b.asked, now), wanted(b.askedSk, now)
		b.mu.Unlock()
		ag, sk, err := b.fetch(ctx, agents, sks)
		b.mu.Lock()
		defer b.mu.Unlock()
		close(b.busy)
		b.busy = nil
		if err != nil {
			if ctx.Err() == nil {
				b.err, b.errAt = err, now
			}
			return statsFigures{}, err
		}
		b.err, b.read, b.agents, b.skills = nil, now, ag, sk
		b.covered, b.coverSk = setOf(agents), setOf(sks)
		return b.figures(workNo, skills), nil
	}
}

// figures is workNo's share of the board. Caller holds b.mu.
func (b *statsBoard) figures(workNo int, skills []int) statsFigures {
	f := statsFigures{read: b.read, skills: map[int]CMSSkillStats{}}
	if a, ok := b.agents[workNo]; ok {
		f.agent = &a
	}
	for _, id := range skills {
		if sk, ok := b.skills[id]; ok {
			f.skills[id] = sk
		}
	}
	return f
}

// fetch reads the figures of agents and skills from CMS.
func (b *statsBoard) fetch(ctx context.Context, agents, skills []int) (map[int]gateway.AgentStats, map[int]CMSSkillStats, error) {
	ag := map[int]gateway.AgentStats{}
	for chunk := range slices.Chunk(agents, 100) {
		rows, err := b.cms.AgentDayIndexes(ctx, chunk, agentIndexes)
		if err != nil {
			return nil, nil, err
		}
		for id, v := range rows {
			ag[id] = gateway.AgentStats{
				Answered: int(v["IDX_COUNT_AGENT_CONNECTED"]),
				TalkTime: int(v["IDX_DURATION_AGENT_CALL_IN"] + v["IDX_DURATION_AGENT_CALL_OUT"]),
				Outbound: int(v["IDX_COUNT_TOTAL_AGENT_CALL_OUT"]),
				Missed:   int(v["IDX_COUNT_AGENT_NO_ACK"]),
			}
		}
	}
	sk := map[int]CMSSkillStats{}
	for chunk := range slices.Chunk(skills, 1000) {
		rows, err := b.cms.SkillStats(ctx, chunk)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range rows {
			sk[r.SkillID] = r
		}
	}
	return ag, sk, nil
}

// wanted prunes m of entries older than statsForget and lists the rest.
func wanted(m map[int]time.Time, now time.Time) []int {
	var out []int
	for id, at := range m {
		if now.Sub(at) > statsForget {
			delete(m, id)
			continue
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func setOf(ids []int) map[int]bool {
	m := make(map[int]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}
