package huawei

import (
	"context"
	"crypto/subtle"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const (
	tvAK   = "globalaktest"
	tvSK   = "TestSecretKey-0001"
	tvHost = "10.22.26.181:28080"
	tvCT   = "application/json;charset=UTF-8"
	sv2Raw = `{"request":{"version":"2.0"},"msgBody":{"accountId":"","beginTime":"2018-06-29 10:42:49","endTime":"2018-07-02 10:42:49","agentId":"","callId":"","dataType":"call_record","callBackURL":"http://10.57.118.171:8080"}}`
)

func TestAuthV2SeedVectors(t *testing.T) {
	// SV-1: SignedHeaders and CanonicalHeaders.
	p, err := signAuthV2(authV2Input{Method: "POST", URI: "/rest/cmsapp/v1/ping",
		Headers: map[string]string{"Host": tvHost, "Content-Length": "22", "Content-Type": tvCT},
		AK:      tvAK, SK: tvSK, Time: "2018-10-17T11:48:24.000Z"})
	if err != nil {
		t.Fatal(err)
	}
	if p.SignedHeaders != "content-length;content-type;host" {
		t.Errorf("SignedHeaders = %q", p.SignedHeaders)
	}
	if want := "content-length:22\ncontent-type:application%2Fjson%3Bcharset%3DUTF-8\nhost:10.22.26.181%3A28080"; p.CanonicalHeaders != want {
		t.Errorf("CanonicalHeaders = %q", p.CanonicalHeaders)
	}
	// SV-2: Normalize(body).
	if len(sv2Raw) != 214 {
		t.Fatalf("SV-2 body is %d bytes", len(sv2Raw))
	}
	want := "%7B%22request%22%3A%7B%22version%22%3A%222.0%22%7D%2C%22msgBody%22%3A%7B%22accountId%22%3A%22%22%2C%22beginTime%22%3A%222018-06-29%2010%3A42%3A49%22%2C%22endTime%22%3A%222018-07-02%2010%3A42%3A49%22%2C%22agentId%22%3A%22%22%2C%22callId%22%3A%22%22%2C%22dataType%22%3A%22call_record%22%2C%22callBackURL%22%3A%22http%3A%2F%2F10.57.118.171%3A8080%22%7D%7D"
	if got := normalize(sv2Raw); got != want {
		t.Errorf("normalize(SV-2) = %q", got)
	}
	if got := normalize("é ~"); got != "%C3%A9%20~" {
		t.Errorf("normalize(non-ASCII) = %q", got)
	}
	if _, err := signAuthV2(authV2Input{Method: "POST", URI: "/", Headers: map[string]string{"content-type": tvCT}}); err == nil {
		t.Error("signing without host succeeded")
	}
}

func TestAuthV2ComputedVectors(t *testing.T) {
	post := map[string]string{"host": tvHost, "content-type": tvCT}
	cases := []struct {
		name, method, ts, body, cl string
		query                      map[string]string
		headers                    map[string]string
		canon, key, sig            string
	}{
		{name: "TV-1", method: "POST", ts: "2018-10-17T11:48:24.000Z", body: `{"say":"Hello world!"}`, cl: "22", headers: post,
			canon: "POST\n/rest/cmsapp/v1/ping\ncontent-length;content-type;host\ncontent-length:22\ncontent-type:application%2Fjson%3Bcharset%3DUTF-8\nhost:10.22.26.181%3A28080\n%7B%22say%22%3A%22Hello%20world%21%22%7D",
			key:   "7872532712d83a8201bc243bd56e62dc0ab2a7bcf241318f07d933d3c51517c6",
			sig:   "7f53dfe240ae432164df753e19363d88b8218f32b046cd3dc8b30ec4c80bfd35"},
		{name: "TV-2", method: "POST", ts: "2018-10-17T11:48:24Z", body: `{"say":"Hello world!"}`, cl: "22", headers: post,
			key: "9b15a576012288501beecaa028d5d1f1657014c8b78c0fb163d54de4ee754c60",
			sig: "0399818f9daae4101155ac0ebb66b84b7b734044903a8e8ed20f7ac9ade6b60f"},
		{name: "TV-3", method: "POST", ts: "2021-08-31T09:38:50.872Z", body: sv2Raw, cl: "214", headers: post,
			key: "6a717a9341221f2ad7956f45f19ee803100a8399cd2338a880317d649ffb2ae0",
			sig: "4346e019be5aa3eff998e9ffeacb39bb86d748c7eb07d976b5fd4c19bbb5d726"},
		{name: "TV-4", method: "GET", ts: "2021-08-31T09:38:50.872Z", query: map[string]string{"id": "123", "name": "test"},
			headers: map[string]string{"host": tvHost},
			canon:   "GET\n/rest/cmsapp/v1/ping\nid=123&name=test\nhost\nhost:10.22.26.181%3A28080\n",
			key:     "f08261f0204d28e3161873b78f36372535876129535c6c9c4645a6995b1f272d",
			sig:     "3b505ff9996c0f112ad6336072a289d8b3e1639a34441c5c032c2cda9c2219f8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			for k, v := range tc.headers {
				h[k] = v
			}
			if tc.cl != "" {
				h["content-length"] = tc.cl
			}
			p, err := signAuthV2(authV2Input{Method: tc.method, URI: "/rest/cmsapp/v1/ping", Query: tc.query,
				Headers: h, Body: tc.body, AK: tvAK, SK: tvSK, Time: tc.ts})
			if err != nil {
				t.Fatal(err)
			}
			if tc.canon != "" && p.CanonicalRequest != tc.canon {
				t.Errorf("CanonicalRequest = %q", p.CanonicalRequest)
			}
			if p.SigningKey != tc.key {
				t.Errorf("SigningKey = %s", p.SigningKey)
			}
			if p.Signature != tc.sig {
				t.Errorf("Signature = %s", p.Signature)
			}
			if want := "auth-v2/" + tvAK + "/" + tc.ts + "/" + p.SignedHeaders + "/" + tc.sig; p.Authorization() != want {
				t.Errorf("Authorization = %s", p.Authorization())
			}
		})
	}
	if got := authV2Time(time.Date(2021, 8, 31, 9, 38, 50, 872e6, time.UTC)); got != "2021-08-31T09:38:50.872Z" {
		t.Errorf("authV2Time = %s", got)
	}
}

// TestCMSPostSigned checks the CMS client against a verifier that rebuilds
// the signature from the received request (the spec's simulator rule).
func TestCMSPostSigned(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		parts := strings.Split(r.Header.Get("Authorization"), "/")
		if len(parts) != 5 || parts[0] != "auth-v2" || parts[1] != "ak1" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h := map[string]string{}
		for _, n := range strings.Split(parts[3], ";") {
			if n == "host" {
				h[n] = r.Host
			} else {
				h[n] = r.Header.Get(n)
			}
		}
		p, err := signAuthV2(authV2Input{Method: r.Method, URI: r.URL.Path, Headers: h, Body: string(body), AK: "ak1", SK: "sk1-secret", Time: parts[2]})
		if err != nil || subtle.ConstantTimeCompare([]byte(p.Signature), []byte(parts[4])) != 1 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if parts[2] != "2026-01-02T03:04:05.000Z" {
			t.Errorf("timestamp %s", parts[2])
		}
		_, _ = io.WriteString(w, `{"resultCode":"0100000","resultDesc":"ok","resultData":{"waitNum":3}}`)
	}))
	defer srv.Close()
	c, err := NewCMSClient(CMSConfig{BaseURL: srv.URL, AK: "ak1", SK: "sk1-secret"}, srv.Client(), newClock(false).Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		ResultData struct {
			WaitNum flexString `json:"waitNum"`
		} `json:"resultData"`
	}
	if err := c.Post(context.Background(), "/rest/cmsapp/v1/openapi/cti/sysindex", map[string]any{"ccId": 1}, &out); err != nil {
		t.Fatal(err)
	}
	if out.ResultData.WaitNum != "3" {
		t.Errorf("waitNum = %q", out.ResultData.WaitNum)
	}
	bad, _ := NewCMSClient(CMSConfig{BaseURL: srv.URL, AK: "ak1", SK: "wrong"}, srv.Client(), nil, slog.New(slog.DiscardHandler))
	err = bad.Post(context.Background(), "/rest/cmsapp/v1/ping", map[string]any{}, nil)
	if err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("bad SK: err = %v", err)
	}
}

// TestCMSStatistics decodes the seed's example answers (tables 12-462 and
// 12-425) through the typed helpers and checks the request bodies.
func TestCMSStatistics(t *testing.T) {
	var lastBody atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		lastBody.Store(string(body))
		switch r.URL.Path {
		case cmsAgentStatusPath:
			_, _ = io.WriteString(w, `{"result":"0","resultCode":"0100000","resultDatas":[{"prevState":1,"agentId":1031,"logonTime":4294967295000,"agentRelease":0,"locationId":65535,"currentPrivateCallNum":0,"currentStateTime":2224439,"currentStateReason":65535,"prevStateTime":4294967295,"currentState":0}],"resultDesc":[{"prevState":1,"agentId":1031,"logonTime":4294967295000,"agentRelease":0,"locationId":65535,"currentPrivateCallNum":0,"currentStateTime":2224439,"currentStateReason":65535,"prevStateTime":4294967295,"currentState":0},{"prevState":"1","agentId":"1099","logonTime":1700000000000,"agentRelease":2,"currentStateTime":30,"currentStateReason":258,"currentState":8}]}`)
		case cmsSkillStatePath:
			_, _ = io.WriteString(w, `{"result":"0","resultCode":"0100000","resultDatas":[{"skillId":1,"agentLoginNums":1,"agentTalkingNums":0,"agentIdleNums":0,"agentAvailableNums":0,"agentSetBusyNums":1,"agentRestNums":0,"agentMaxIdleTimeIn5":0,"agentWorkNums":0,"agentStudyNums":0,"agentOccupyNums":0,"agentPreOccupyNums":0,"totalCallNums":0,"processingCallNums":0,"maxCallWaitTimesIn5":0,"callWaitNums":3,"evenCallTimeIn5":0,"evenWaitTimeIn5":0,"allCallCount":0,"cnndIn20sCallCount":0}]}`)
		default:
			_, _ = io.WriteString(w, `{"resultCode":"0100001","resultDesc":"no such resource"}`)
		}
	}))
	defer srv.Close()
	c, err := NewCMSClient(CMSConfig{BaseURL: srv.URL, AK: "ak", SK: "sk", CCID: 1, VDN: 170}, srv.Client(), nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ag, err := c.AgentStatuses(ctx, []int{1031, 1099})
	if err != nil {
		t.Fatal(err)
	}
	if b := lastBody.Load().(string); b != `{"agentIds":[1031,1099],"cclid":1,"vdn":170}` {
		t.Errorf("agent status body %s", b)
	}
	if len(ag) != 2 || ag[0].AgentID != 1031 || !ag[0].LogonTime.IsZero() || ag[0].State() != "signed_out" ||
		ag[1].State() != "rest" || ag[1].CurrentStateReason != 258 || ag[1].CurrentStateTime != 30*time.Second || ag[1].LogonTime.IsZero() {
		t.Errorf("agent rows %+v", ag)
	}
	sk, err := c.SkillStats(ctx, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	if b := lastBody.Load().(string); b != `{"queryParam":{"cclid":1,"skillIds":[1],"vdn":170}}` {
		t.Errorf("skill body %s", b)
	}
	if len(sk) != 1 || sk[0].SkillID != 1 || sk[0].AgentsSignedIn != 1 || sk[0].AgentsBusy != 1 || sk[0].CallsWaiting != 3 {
		t.Errorf("skill rows %+v", sk)
	}
	err = c.Post(ctx, "/rest/cmsapp/v1/openapi/nothing", map[string]any{}, nil)
	if err == nil || !strings.Contains(err.Error(), "0100001") {
		t.Errorf("failure result: %v", err)
	}
	if _, err := c.AgentStatuses(ctx, nil); err == nil {
		t.Error("empty work numbers accepted")
	}
}
