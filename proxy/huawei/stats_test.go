package huawei

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// cmsFake answers hisindex/agent and skill/stateinfo, recording each
// request body by path; with bearer it wants the C1 token instead of C2.
type cmsFake struct {
	mu     sync.Mutex
	bodies map[string][]string
	bearer string
}

func (c *cmsFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	auth := r.Header.Get("Authorization")
	good := strings.HasPrefix(auth, "auth-v2/")
	if c.bearer != "" {
		good = auth == "Bearer "+c.bearer
	}
	if !good {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	c.mu.Lock()
	c.bodies[r.URL.Path] = append(c.bodies[r.URL.Path], string(raw))
	c.mu.Unlock()
	var req struct {
		AgentIDs []int `json:"agentIds"`
	}
	_ = json.Unmarshal(raw, &req)
	switch r.URL.Path {
	case cmsAgentIndexPath:
		// Values as number, string and time-slot map, as the seed mixes them.
		var rows []map[string]any
		for _, id := range req.AgentIDs {
			rows = append(rows, map[string]any{"id": json.Number(itoa(id)), "idxs": []map[string]any{
				{"id": "IDX_COUNT_AGENT_CONNECTED", "val": id % 100},
				{"id": "IDX_DURATION_AGENT_CALL_IN", "val": "120"},
				{"id": "IDX_DURATION_AGENT_CALL_OUT", "val": map[string]string{"2020-08-24 10:30:00.0": "15", "2020-08-24 10:45:00.0": "19"}},
				{"id": "IDX_COUNT_TOTAL_AGENT_CALL_OUT", "val": 2.0},
				{"id": "IDX_COUNT_AGENT_NO_ACK", "val": "1"},
			}})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"result": "0", "resultCode": "0100000", "resultDesc": rows})
	case cmsSkillStatePath:
		_, _ = io.WriteString(w, `{"result":"0","resultCode":"0100000","resultDesc":[{"skillId":1,"callWaitNums":"4","agentIdleNums":2},{"skillId":2,"callWaitNums":0,"agentIdleNums":0}]}`)
	}
}

func (c *cmsFake) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.bodies[path])
}

func (c *cmsFake) last(path string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.bodies[path]
	return b[len(b)-1]
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// movingClock is a clock the test moves.
type movingClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *movingClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *movingClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestStatsBoardBatchesAndCaches: every agent asking within the TTL is
// served from one refresh; a new agent triggers a refresh covering all the
// agents asking; after the TTL the figures are read again.
func TestStatsBoardBatchesAndCaches(t *testing.T) {
	fake := &cmsFake{bodies: map[string][]string{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	clk := &movingClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	cms, err := NewCMSClient(CMSConfig{BaseURL: srv.URL, AK: "ak", SK: "sk", CCID: 1, VDN: 1}, srv.Client(), clk.Now, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	b := newStatsBoard(cms, clk.Now, 5*time.Second)
	ctx := context.Background()
	f, err := b.get(ctx, 101, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	want := gateway.AgentStats{Answered: 1, TalkTime: 120 + 34, Outbound: 2, Missed: 1}
	if f.agent == nil || *f.agent != want || f.skills[1].CallsWaiting != 4 || f.skills[1].AgentsIdle != 2 || !f.read.Equal(clk.Now()) {
		t.Fatalf("figures %+v agent %+v", f, f.agent)
	}
	if _, err := b.get(ctx, 101, []int{1}); err != nil || fake.count(cmsAgentIndexPath) != 1 {
		t.Fatalf("within the TTL: %d requests (%v)", fake.count(cmsAgentIndexPath), err)
	}
	if _, err := b.get(ctx, 102, []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	if n := fake.count(cmsAgentIndexPath); n != 2 || fake.last(cmsAgentIndexPath) != `{"agentIds":[101,102],"cclid":1,"indexIds":["IDX_COUNT_AGENT_CONNECTED","IDX_DURATION_AGENT_CALL_IN","IDX_DURATION_AGENT_CALL_OUT","IDX_COUNT_TOTAL_AGENT_CALL_OUT","IDX_COUNT_AGENT_NO_ACK"],"vdn":1}` {
		t.Fatalf("new agent: %d requests, last %s", n, fake.last(cmsAgentIndexPath))
	}
	if fake.last(cmsSkillStatePath) != `{"queryParam":{"cclid":1,"skillIds":[1,2],"vdn":1}}` {
		t.Fatalf("skill request %s", fake.last(cmsSkillStatePath))
	}
	if f, _ := b.get(ctx, 101, []int{1}); fake.count(cmsAgentIndexPath) != 2 || f.agent.Answered != 1 {
		t.Fatal("101 not served from the shared refresh")
	}
	clk.Advance(5 * time.Second)
	if _, err := b.get(ctx, 101, []int{1}); err != nil || fake.count(cmsAgentIndexPath) != 3 {
		t.Fatalf("after the TTL: %d requests (%v)", fake.count(cmsAgentIndexPath), err)
	}
	// Many bars at once: one refresh.
	clk.Advance(5 * time.Second)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := b.get(ctx, 101, []int{1}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := fake.count(cmsAgentIndexPath); n != 4 {
		t.Fatalf("20 bars: %d requests in all, want 4", n)
	}
}

// TestCMSBearer: without AK/SK the CMS client authorizes with the C1
// token of API Fabric.
func TestCMSBearer(t *testing.T) {
	fabric := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"AccessToken":"c1-token-XYZ","ApplyType":"Bearer","Expires":"600"}`)
	}))
	defer fabric.Close()
	fake := &cmsFake{bodies: map[string][]string{}, bearer: "c1-token-XYZ"}
	cmsSrv := httptest.NewServer(fake)
	defer cmsSrv.Close()
	a, err := New(Config{BaseURL: "http://127.0.0.1:1", Logger: slog.New(slog.DiscardHandler),
		Fabric: &FabricConfig{BaseURL: fabric.URL, AK: "fab-ak", SK: "fab-sk"},
		CMS:    &CMSConfig{BaseURL: cmsSrv.URL, CCID: 1, VDN: 1}})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := a.CMS().AgentDayIndexes(context.Background(), []int{101}, agentIndexes)
	if err != nil || rows[101]["IDX_COUNT_AGENT_CONNECTED"] != 1 {
		t.Fatalf("C1 CMS query: %v %v", rows, err)
	}
	if _, err := New(Config{BaseURL: "http://x", CMS: &CMSConfig{BaseURL: "http://y"}}); err == nil {
		t.Error("CMS without AK/SK or API Fabric accepted")
	}
}

// TestIndexValue decodes the value shapes of hisindex answers.
func TestIndexValue(t *testing.T) {
	for raw, want := range map[string]int64{`7`: 7, `"7"`: 7, `7.9`: 7, `"12.5"`: 12, `{"a":"1","b":2}`: 3, `{}`: 0} {
		if got, ok := indexValue(json.RawMessage(raw)); !ok || got != want {
			t.Errorf("%s: %d %v, want %d", raw, got, ok, want)
		}
	}
	for _, raw := range []string{`[1]`, `"x"`, `null`} {
		if _, ok := indexValue(json.RawMessage(raw)); ok {
			t.Errorf("%s accepted", raw)
		}
	}
}
