package huaweiemu

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// cmsRows posts a signed CMS request and decodes its rows.
func (f *fixture) cmsRows(path, body string) []map[string]any {
	f.t.Helper()
	res := f.cmsRequestTo(path, body, tvSK, f.clock.Now(), nil)
	defer res.Body.Close()
	var out struct {
		ResultCode string           `json:"resultCode"`
		ResultDesc []map[string]any `json:"resultDesc"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusOK || out.ResultCode != cmsOK {
		f.t.Fatalf("%s: HTTP %d %+v (%v)", path, res.StatusCode, out, err)
	}
	return out.ResultDesc
}

// TestCMSFigures: the agent indicators count a real call of the call
// center (answered, 42 s of talk on the emulator's clock), the skill
// figures show the agents serving the queue and the calls waiting in it
// (the call center's own figure, read through its sessions' Stats).
func TestCMSFigures(t *testing.T) {
	f := newFixture(t, nil)
	f.newPhone("291")
	g := f.signIn("291", "pw291", "40038", nil)
	f.drain("291", g)
	id, err := f.cc.PlaceCall("support", "+15550100", nil)
	if err != nil {
		t.Fatal(err)
	}
	f.until("291", g, eventTalking)
	f.clock.Advance(42 * time.Second)
	if err := f.cc.CustomerHangup(id); err != nil {
		t.Fatal(err)
	}
	f.until("291", g, eventCallRelease)
	// 291 is in wrap-up now: the next caller waits.
	if _, err := f.cc.PlaceCall("support", "+15550111", nil); err != nil {
		t.Fatal(err)
	}

	indexes := `{"cclid":1,"vdn":1,"agentIds":[291,292],"indexIds":["IDX_COUNT_AGENT_CONNECTED","IDX_DURATION_AGENT_CALL_IN","IDX_COUNT_TOTAL_AGENT_CALL_OUT","IDX_NO_SUCH"]}`
	rows := f.cmsRows(cmsAgentIndexPath, indexes)
	want := `[{"id":"291","idxs":[{"id":"IDX_COUNT_AGENT_CONNECTED","val":"1"},{"id":"IDX_DURATION_AGENT_CALL_IN","val":"42"},{"id":"IDX_COUNT_TOTAL_AGENT_CALL_OUT","val":"0"}]},` +
		`{"id":"292","idxs":[{"id":"IDX_COUNT_AGENT_CONNECTED","val":"0"},{"id":"IDX_DURATION_AGENT_CALL_IN","val":"0"},{"id":"IDX_COUNT_TOTAL_AGENT_CALL_OUT","val":"0"}]}]`
	if b, _ := json.Marshal(rows); string(b) != want {
		t.Fatalf("agent indexes\n got %s\nwant %s", b, want)
	}
	rows = f.cmsRows(cmsAgentIndexPath, `{"vdn":1,"agentIds":[291],"timeGrain":"15MIN","indexIds":["IDX_COUNT_AGENT_CONNECTED"]}`)
	if b, _ := json.Marshal(rows[0]["idxs"]); string(b) != `[{"id":"IDX_COUNT_AGENT_CONNECTED","val":{"2026-01-02 03:00:00.0":"1"}}]` {
		t.Fatalf("agent indexes by 15 min: %s", b)
	}

	rows = f.cmsRows(cmsSkillStatePath, `{"queryParam":{"cclid":1,"vdn":1,"skillIds":[1]}}`)
	if len(rows) != 1 {
		t.Fatalf("skill rows %v", rows)
	}
	for k, v := range map[string]float64{"skillId": 1, "agentLoginNums": 1, "agentWorkNums": 1, "agentIdleNums": 0, "callWaitNums": 1} {
		if rows[0][k] != v {
			t.Errorf("skill %s = %v, want %v (row %v)", k, rows[0][k], v, rows[0])
		}
	}
}
