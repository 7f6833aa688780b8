package huaweiemu

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// Vectors of the engineering spec §2.2.3 (from the seed) and §2.2.4.
const (
	tvHost = "10.22.26.181:28080"
	tvCT   = "application/json;charset=UTF-8"
	tvPath = "/rest/cmsapp/v1/ping"
	tvAK   = "globalaktest"
	tvSK   = "TestSecretKey-0001"
	sv2In  = `{"request":{"version":"2.0"},"msgBody":{"accountId":"","beginTime":"2018-06-29 10:42:49","endTime":"2018-07-02 10:42:49","agentId":"","callId":"","dataType":"call_record","callBackURL":"http://10.57.118.171:8080"}}`
	sv2Out = `%7B%22request%22%3A%7B%22version%22%3A%222.0%22%7D%2C%22msgBody%22%3A%7B%22accountId%22%3A%22%22%2C%22beginTime%22%3A%222018-06-29%2010%3A42%3A49%22%2C%22endTime%22%3A%222018-07-02%2010%3A42%3A49%22%2C%22agentId%22%3A%22%22%2C%22callId%22%3A%22%22%2C%22dataType%22%3A%22call_record%22%2C%22callBackURL%22%3A%22http%3A%2F%2F10.57.118.171%3A8080%22%7D%7D`
)

func tvHeaders(length int) map[string]string {
	return map[string]string{"Host": tvHost, "Content-Length": strconv.Itoa(length), "Content-Type": tvCT}
}

func TestAuthV2SeedVectors(t *testing.T) {
	h := tvHeaders(22)
	if got := signedHeaderNames(h); got != "content-length;content-type;host" {
		t.Errorf("SV-1 SignedHeaders %q", got)
	}
	if got, want := canonicalHeaders(h), "content-length:22\ncontent-type:application%2Fjson%3Bcharset%3DUTF-8\nhost:10.22.26.181%3A28080"; got != want {
		t.Errorf("SV-1 CanonicalHeaders %q", got)
	}
	if len(sv2In) != 214 {
		t.Fatalf("SV-2 input is %d bytes", len(sv2In))
	}
	if got := normalize(sv2In); got != sv2Out {
		t.Errorf("SV-2 Normalize(body) %q", got)
	}
}

func TestAuthV2ComputedVectors(t *testing.T) {
	body := `{"say":"Hello world!"}`
	// TV-1
	cr := canonicalRequest("POST", tvPath, nil, tvHeaders(22), body)
	if want := "POST\n/rest/cmsapp/v1/ping\ncontent-length;content-type;host\ncontent-length:22\ncontent-type:application%2Fjson%3Bcharset%3DUTF-8\nhost:10.22.26.181%3A28080\n%7B%22say%22%3A%22Hello%20world%21%22%7D"; cr != want {
		t.Errorf("TV-1 CanonicalRequest %q", cr)
	}
	prefix := "auth-v2/globalaktest/2018-10-17T11:48:24.000Z/content-length;content-type;host"
	if got := signingKey(tvSK, prefix); got != "7872532712d83a8201bc243bd56e62dc0ab2a7bcf241318f07d933d3c51517c6" {
		t.Errorf("TV-1 SigningKey %s", got)
	}
	if got, want := authV2("POST", tvPath, nil, tvHeaders(22), body, tvAK, tvSK, "2018-10-17T11:48:24.000Z"),
		prefix+"/7f53dfe240ae432164df753e19363d88b8218f32b046cd3dc8b30ec4c80bfd35"; got != want {
		t.Errorf("TV-1 Authorization %s", got)
	}
	// TV-2
	prefix2 := "auth-v2/globalaktest/2018-10-17T11:48:24Z/content-length;content-type;host"
	if got := signingKey(tvSK, prefix2); got != "9b15a576012288501beecaa028d5d1f1657014c8b78c0fb163d54de4ee754c60" {
		t.Errorf("TV-2 SigningKey %s", got)
	}
	if got := authV2("POST", tvPath, nil, tvHeaders(22), body, tvAK, tvSK, "2018-10-17T11:48:24Z"); got != prefix2+"/0399818f9daae4101155ac0ebb66b84b7b734044903a8e8ed20f7ac9ade6b60f" {
		t.Errorf("TV-2 Authorization %s", got)
	}
	// TV-3
	prefix3 := "auth-v2/globalaktest/2021-08-31T09:38:50.872Z/content-length;content-type;host"
	if got := signingKey(tvSK, prefix3); got != "6a717a9341221f2ad7956f45f19ee803100a8399cd2338a880317d649ffb2ae0" {
		t.Errorf("TV-3 SigningKey %s", got)
	}
	if got := authV2("POST", tvPath, nil, tvHeaders(214), sv2In, tvAK, tvSK, "2021-08-31T09:38:50.872Z"); got != prefix3+"/4346e019be5aa3eff998e9ffeacb39bb86d748c7eb07d976b5fd4c19bbb5d726" {
		t.Errorf("TV-3 Authorization %s", got)
	}
	// TV-4: GET with a query, only host signed, no body.
	q := map[string][]string{"id": {"123"}, "name": {"test"}}
	hostOnly := map[string]string{"host": tvHost}
	if got, want := canonicalRequest("GET", tvPath, q, hostOnly, ""), "GET\n/rest/cmsapp/v1/ping\nid=123&name=test\nhost\nhost:10.22.26.181%3A28080\n"; got != want {
		t.Errorf("TV-4 CanonicalRequest %q", got)
	}
	prefix4 := "auth-v2/globalaktest/2021-08-31T09:38:50.872Z/host"
	if got := signingKey(tvSK, prefix4); got != "f08261f0204d28e3161873b78f36372535876129535c6c9c4645a6995b1f272d" {
		t.Errorf("TV-4 SigningKey %s", got)
	}
	if got := authV2("GET", tvPath, q, hostOnly, "", tvAK, tvSK, "2021-08-31T09:38:50.872Z"); got != prefix4+"/3b505ff9996c0f112ad6336072a289d8b3e1639a34441c5c032c2cda9c2219f8" {
		t.Errorf("TV-4 Authorization %s", got)
	}
}

// cmsRequest posts body to the agent status resource signed with sk at
// ts; tamper may change the request after signing.
func (f *fixture) cmsRequest(body, sk string, ts time.Time, tamper func(*http.Request)) *http.Response {
	f.t.Helper()
	return f.cmsRequestTo(cmsAgentStatusPath, body, sk, ts, tamper)
}

// cmsRequestTo is cmsRequest to the resource at path.
func (f *fixture) cmsRequestTo(path, body, sk string, ts time.Time, tamper func(*http.Request)) *http.Response {
	f.t.Helper()
	u, _ := url.Parse(f.srv.URL)
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+path, bytes.NewReader([]byte(body)))
	if err != nil {
		f.t.Fatal(err)
	}
	h := map[string]string{"host": u.Host, "content-length": strconv.Itoa(len(body)), "content-type": tvCT}
	req.Header.Set("Content-Type", tvCT)
	req.Header.Set("Authorization", authV2(http.MethodPost, path, nil, h, body, tvAK, sk, ts.UTC().Format("2006-01-02T15:04:05.000Z")))
	if tamper != nil {
		tamper(req)
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func TestCMSAgentStatusSignature(t *testing.T) {
	f := newFixture(t, nil)
	g := f.signIn("291", "pw291", "40038", nil)
	f.drain("291", g)
	body := `{"cclid":1,"vdn":1,"agentIds":[291,292]}`

	res := f.cmsRequest(body, tvSK, f.clock.Now(), nil)
	var out struct {
		ResultCode  string `json:"resultCode"`
		ResultDatas []struct {
			AgentID      int   `json:"agentId"`
			CurrentState int   `json:"currentState"`
			LogonTime    int64 `json:"logonTime"`
		} `json:"resultDatas"`
	}
	err := json.NewDecoder(res.Body).Decode(&out)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || err != nil || out.ResultCode != cmsOK || len(out.ResultDatas) != 2 {
		t.Fatalf("signed request: HTTP %d %+v (%v)", res.StatusCode, out, err)
	}
	if a := out.ResultDatas[0]; a.AgentID != 291 || a.CurrentState != 1 || a.LogonTime != f.clock.Now().UnixMilli() {
		t.Errorf("agent 291: %+v", a)
	}
	if a := out.ResultDatas[1]; a.AgentID != 292 || a.CurrentState != 0 || a.LogonTime != notSignedInLogon {
		t.Errorf("agent 292: %+v", a)
	}

	refused := []struct {
		name   string
		sk     string
		ts     time.Time
		tamper func(*http.Request)
	}{
		{"wrong secret", "other-secret", f.clock.Now(), nil},
		{"stale timestamp", tvSK, f.clock.Now().Add(-16 * time.Minute), nil},
		{"future timestamp", tvSK, f.clock.Now().Add(16 * time.Minute), nil},
		{"tampered body", tvSK, f.clock.Now(), func(r *http.Request) {
			b := []byte(`{"cclid":1,"vdn":1,"agentIds":[291,299]}`)
			r.Body, r.ContentLength = nopCloser{bytes.NewReader(b)}, int64(len(b))
		}},
		{"no header", tvSK, f.clock.Now(), func(r *http.Request) { r.Header.Del("Authorization") }},
	}
	for _, c := range refused {
		res := f.cmsRequest(body, c.sk, c.ts, c.tamper)
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: HTTP %d, want 401", c.name, res.StatusCode)
		}
	}
}

// nopCloser makes a reader a request body.
type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
