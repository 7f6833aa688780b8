package huaweiemu

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbar/agentbar/internal/logbuf"
	"github.com/agentbar/agentbar/proxy/gateway"
	"github.com/agentbar/agentbar/proxy/huawei"
)

// TestCallDataResources: the call center's call data is on no event (the
// seed's contents, nothing more) and comes from the calldata queries:
// callinfobycallid, callinfo and callinbeforeanswer as the calldata
// string (a JSON object's text), appdata as that string, plain or base64.
func TestCallDataResources(t *testing.T) {
	f := newFixture(t, nil)
	f.newPhone("291")
	g := f.signIn("291", "pw291", "40038", map[string]any{"autoanswer": "false"})
	f.drain("291", g)
	data := map[string]string{"order": "A-17", "name": "林子航"}
	if _, err := f.cc.PlaceCall("support", "+15550100", data); err != nil {
		t.Fatal(err)
	}

	// The events carry exactly the seed's fields.
	in := content(t, f.until("291", g, eventIncoming))
	keys := slices.Sorted(maps.Keys(in))
	want := []string{"callId", "called", "caller", "lastReleaseAgentId", "mediaType", "releaseAndReQueueCallFlag", "releaseAndReQueueCount", "skillId", "skillName"}
	if !slices.Equal(keys, want) {
		t.Fatalf("AgentEvent_Incoming_CallInfo keys %v, want the seed's %v", keys, want)
	}
	callid, _ := in["callId"].(string)
	ring := content(t, f.until("291", g, eventRinging))
	keys = slices.Sorted(maps.Keys(ring))
	want = []string{"called", "caller", "callid", "feature", "mediaAbility", "transfer", "transfrom", "type"}
	if !slices.Equal(keys, want) || ring["callid"] != callid {
		t.Fatalf("AgentEvent_Ringing %v, want the seed's keys %v and callid %s", ring, want, callid)
	}

	wantData := func(what, got string) {
		t.Helper()
		var m map[string]string
		if err := json.Unmarshal([]byte(got), &m); err != nil || !maps.Equal(m, data) {
			t.Fatalf("%s: calldata %q, want the JSON of %v", what, got, data)
		}
	}
	info := func(path string) map[string]any {
		t.Helper()
		r := f.call(http.MethodGet, path, g, nil)
		f.expect(r, "0", path)
		var m map[string]any
		if err := json.Unmarshal(r.Result, &m); err != nil {
			t.Fatalf("%s: result %s: %v", path, r.Result, err)
		}
		if m["callid"] != callid || m["caller"] != "+15550100" || m["callskill"] != "support" || m["callskillid"] != float64(1) || m["callfeature"] != float64(0) {
			t.Fatalf("%s: %v", path, m)
		}
		s, _ := m["calldata"].(string)
		wantData(path, s)
		return m
	}
	info("calldata/291/callinfobycallid/" + callid)
	info("calldata/291/callinfo")
	if m := info("calldata/291/callinbeforeanswer"); m["trace"] != nil {
		t.Fatalf("callinbeforeanswer trace %v, want null (reserved)", m["trace"])
	}
	r := f.call(http.MethodGet, "calldata/291/appdata?callId="+callid, g, nil)
	f.expect(r, "0", "appdata")
	var s string
	if err := json.Unmarshal(r.Result, &s); err != nil {
		t.Fatalf("appdata result %s is not a string", r.Result)
	}
	wantData("appdata", s)
	f.clock.Advance(queryWindow) // 5 queries so far
	r = f.call(http.MethodGet, "calldata/291/appdata?isEncodeResult=true", g, nil)
	f.expect(r, "0", "appdata base64")
	if err := json.Unmarshal(r.Result, &s); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("appdata isEncodeResult=true: %q is not base64", s)
	}
	wantData("appdata base64", string(raw))
	f.expect(f.call(http.MethodGet, "calldata/291/callinfobycallid/1-999999", g, nil), "100-007", "callinfobycallid of another call")
	f.expect(f.call(http.MethodGet, "calldata/291/appdata?callid=1-999999", g, nil), "100-007", "appdata of another call")
	f.expect(f.call(http.MethodGet, "calldata/291/callinfobycallid/"+callid, "nope", nil), "100-006", "callinfobycallid without a Guid")

	// Once the call is over, there is no call data to read.
	f.until("291", g, eventTalking)
	f.expect(f.call(http.MethodDelete, "voicecall/291/release", g, nil), "0", "release")
	f.until("291", g, eventCallRelease)
	f.clock.Advance(queryWindow)
	f.expect(f.call(http.MethodGet, "calldata/291/appdata", g, nil), "100-007", "appdata without a call")
	f.expect(f.call(http.MethodGet, "calldata/291/callinfobycallid/"+callid, g, nil), "100-007", "callinfobycallid of an ended call")
	r = f.call(http.MethodGet, "calldata/291/callinbeforeanswer", g, nil)
	f.expect(r, "0", "callinbeforeanswer without a call")
	if string(r.Result) != "null" {
		t.Fatalf("callinbeforeanswer without a call: %s", r.Result)
	}
}

// TestAdapterCallData runs the proxy's adapter against the emulator, in
// poll and in push mode, with manual answer: a customer call's data
// (order=A-17), caller and queue reach the bar on call.incoming and
// call.ringing, read once with the calldata query the adapter paces, and
// stay on the call in a snapshot.
func TestAdapterCallData(t *testing.T) {
	for _, push := range []bool{false, true} {
		name := "poll"
		if push {
			name = "push"
		}
		t.Run(name, func(t *testing.T) { adapterCallData(t, push) })
	}
}

func adapterCallData(t *testing.T, push bool) {
	f := newFixture(t, nil)
	f.newPhone("291")
	tm := &adapterTimers{clock: f.clock, beats: make(chan chan time.Time, 8)}
	logs := &logbuf.Buffer{}
	paths := &pathRecorder{base: f.srv.Client().Transport}
	cfg := huawei.Config{
		BaseURL: f.srv.URL, HTTPClient: &http.Client{Transport: paths},
		Agents:       map[string]huawei.Agent{"ann": {WorkNo: "291", Password: "pw291", PhoneNumber: "40038"}},
		Now:          f.clock.Now,
		After:        tm.After,
		ManualAnswer: true,
		Logger:       slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	var cbSrv *httptest.Server
	if push {
		cbSrv = httptest.NewUnstartedServer(nil)
		t.Cleanup(cbSrv.Close)
		cfg.Push = &huawei.PushConfig{CallbackURL: "http://" + cbSrv.Listener.Addr().String() + huawei.PushPath}
	}
	a, err := huawei.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if push {
		cbSrv.Config.Handler = a.PushHandler()
		cbSrv.Start()
	}
	bar := &barEvents{ch: make(chan gateway.Event, 64)}
	ctx := context.Background()
	sess, err := a.SignIn(ctx, "ann", gateway.SignInOptions{}, bar.sink)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sess.Close(context.Background()) })
	if err := sess.Do(ctx, gateway.Command{Op: gateway.OpReady}); err != nil {
		t.Fatal(err)
	}
	bar.wait(t, "ready", isState(gateway.StateReady))

	const caller = "+15550100"
	if _, err := f.cc.PlaceCall("support", caller, map[string]string{"order": "A-17"}); err != nil {
		t.Fatal(err)
	}
	check := func(what string, ev gateway.Event) string {
		t.Helper()
		c := ev.Call
		if c == nil || c.ID == "" || c.Caller != caller || c.Queue != "support" || c.Direction != "inbound" || c.Data["order"] != "A-17" {
			t.Fatalf("%s: call %+v, want caller %s, queue support and data order=A-17", what, c, caller)
		}
		return c.ID
	}
	is := func(typ gateway.EventType) func(gateway.Event) bool {
		return func(ev gateway.Event) bool { return ev.Type == typ }
	}
	in, _ := bar.wait(t, "call.incoming", is(gateway.EvCallIncoming))
	id := check("call.incoming", in)
	if in.Call.Data["skillId"] != "1" || in.Call.Data["mediaType"] != "5" {
		t.Fatalf("call.incoming data %v lost skillId/mediaType", in.Call.Data)
	}
	ring, _ := bar.wait(t, "call.ringing", is(gateway.EvCallRinging))
	if check("call.ringing", ring) != id {
		t.Fatalf("call.ringing for %s, call.incoming for %s", ring.Call.ID, id)
	}
	// The test phone answers by itself (the call center's answer).
	ans, _ := bar.wait(t, "call.answered", is(gateway.EvCallAnswered))
	check("call.answered", ans)
	snap, err := sess.Snapshot(ctx)
	if err != nil || len(snap.Calls) != 1 {
		t.Fatalf("snapshot %+v %v", snap, err)
	}
	check("snapshot", gateway.Event{Call: &snap.Calls[0]})

	// The data was read once, with the documented query, and the data
	// itself is not in the log.
	if n := paths.count(resourcePrefix + "calldata/291/callinfobycallid/"); n != 1 {
		t.Errorf("%d callinfobycallid queries, want 1", n)
	}
	text := logs.String()
	if strings.Contains(text, "A-17") || strings.Contains(text, "pw291") {
		t.Error("call data or the password in the adapter's log")
	}
	if strings.Contains(text, "call data not read") {
		t.Errorf("call data read failed: %s", text)
	}
}

// pathRecorder is a transport that records the paths requested.
type pathRecorder struct {
	base  http.RoundTripper
	mu    sync.Mutex
	paths []string
}

func (p *pathRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	p.mu.Lock()
	p.paths = append(p.paths, r.URL.Path)
	p.mu.Unlock()
	return p.base.RoundTrip(r)
}

// count is how many requested paths start with prefix.
func (p *pathRecorder) count(prefix string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.paths {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}
