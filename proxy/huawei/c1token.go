package huawei

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// FabricConfig is the API Fabric (apiaccess) account used for C1 tokens.
type FabricConfig struct {
	// BaseURL is the API Fabric domain, e.g. https://service.besclouds.com.
	BaseURL string
	// AK and SK are the app key and secret (secrets).
	AK, SK string
	// Lifetime is the requested token lifetime (X-Token-Expire): default
	// 600 s, at most 3600 s.
	Lifetime time.Duration
}

// TokenSource hands out the C1 bearer token from tokenByAkSk and fetches a
// new one before the current one expires. It is safe for concurrent use.
type TokenSource struct {
	cfg    FabricConfig
	hc     *http.Client
	now    func() time.Time
	log    *slog.Logger
	mu     sync.Mutex
	token  string
	expiry time.Time
}

// NewTokenSource builds a TokenSource; hc and now default to
// http.DefaultClient and time.Now, log to slog.Default().
func NewTokenSource(cfg FabricConfig, hc *http.Client, now func() time.Time, log *slog.Logger) (*TokenSource, error) {
	if cfg.BaseURL == "" || cfg.AK == "" || cfg.SK == "" {
		return nil, gateway.Errorf(gateway.CodeBadRequest, "huawei: API Fabric needs a base URL, AK and SK")
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = 600 * time.Second
	}
	if cfg.Lifetime > 3600*time.Second {
		cfg.Lifetime = 3600 * time.Second
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &TokenSource{cfg: cfg, hc: hc, now: now, log: log}, nil
}

// refreshMargin is how long before expiry a token is replaced: a fifth of
// its lifetime, at most a minute.
func refreshMargin(lifetime time.Duration) time.Duration {
	return min(lifetime/5, time.Minute)
}

// Token returns a bearer token valid for at least the refresh margin,
// fetching a new one when needed.
func (t *TokenSource) Token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if t.token != "" && now.Before(t.expiry) {
		return t.token, nil
	}
	tok, life, err := t.fetch(ctx)
	if err != nil {
		return "", err
	}
	t.token = tok
	t.expiry = now.Add(life - refreshMargin(life))
	t.log.Debug("huawei: API Fabric token refreshed", "lifetime", life)
	return tok, nil
}

// Authorize sets the bearer token and app key headers on req.
func (t *TokenSource) Authorize(ctx context.Context, req *http.Request) error {
	tok, err := t.Token(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("x-app-key", t.cfg.AK)
	return nil
}

// tokenResponse is the tokenByAkSk answer.
type tokenResponse struct {
	AccessToken string     `json:"AccessToken"`
	ApplyType   flexString `json:"ApplyType"`
	CreateTime  flexString `json:"CreateTime"`
	Expires     flexString `json:"Expires"`
}

func (t *TokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	body, err := json.Marshal(map[string]string{"app_key": t.cfg.AK, "app_secret": t.cfg.SK})
	if err != nil {
		return "", 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		t.cfg.BaseURL+"/apigovernance/api/oauth/tokenByAkSk", bytes.NewReader(body))
	if err != nil {
		return "", 0, gateway.Errorf(gateway.CodeInternal, "huawei: token request: bad base URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Token-Expire", strconv.Itoa(int(t.cfg.Lifetime/time.Second)))
	resp, err := t.hc.Do(req)
	if err != nil {
		t.log.Warn("huawei: API Fabric token request failed", "err", redactURLErr(err))
		return "", 0, gateway.Errorf(gateway.CodeUnavailable, "API Fabric unreachable / 无法连接 API Fabric")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.log.Warn("huawei: API Fabric token refused", "status", resp.StatusCode)
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return "", 0, gateway.Errorf(gateway.CodeInternal, "API Fabric rejected the AK/SK (HTTP %d) / API Fabric 拒绝了 AK/SK", resp.StatusCode)
		}
		return "", 0, gateway.Errorf(gateway.CodeUnavailable, "API Fabric token request failed (HTTP %d) / 获取 API Fabric 令牌失败", resp.StatusCode)
	}
	var tr tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		return "", 0, gateway.Errorf(gateway.CodeUnavailable, "API Fabric token response unreadable / API Fabric 令牌响应无法解析")
	}
	life := t.cfg.Lifetime
	if n, ok := tr.Expires.Int(); ok && n > 0 {
		life = time.Duration(n) * time.Second
	}
	return tr.AccessToken, life, nil
}

// redactURLErr describes a transport error without its URL's query.
func redactURLErr(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '?'); i >= 0 {
		if j := strings.IndexAny(s[i:], "\": "); j >= 0 {
			return s[:i] + s[i+j:]
		}
		return s[:i]
	}
	return s
}

// CMSConfig is the CC-CMS account for statistics queries.
type CMSConfig struct {
	// BaseURL is the CMS base, e.g. https://10.22.26.181:28080.
	BaseURL string
	// AK and SK are the access key and secret of the C2 auth-v2 signature
	// (secrets).
	AK, SK string
	// Bearer, used when AK and SK are empty, authorizes requests with the
	// C1 API Fabric token instead (a CMS reached through API Fabric).
	Bearer *TokenSource
	// CCID (cclid, 1-65535) and VDN (1-5000) scope the statistics queries.
	CCID, VDN int
}

// CMSClient sends C2-signed (or C1-authorized) requests to CC-CMS (queue
// and agent statistics for the bar's figures).
type CMSClient struct {
	base   string
	ak, sk string
	bearer *TokenSource // C1 instead of C2 when set
	ccid   int
	vdn    int
	hc     *http.Client
	now    func() time.Time
	log    *slog.Logger
}

// NewCMSClient builds a CMS client; hc, now and log have defaults.
func NewCMSClient(cfg CMSConfig, hc *http.Client, now func() time.Time, log *slog.Logger) (*CMSClient, error) {
	c1 := cfg.AK == "" && cfg.SK == "" && cfg.Bearer != nil
	if cfg.BaseURL == "" || !c1 && (cfg.AK == "" || cfg.SK == "") {
		return nil, gateway.Errorf(gateway.CodeBadRequest, "huawei: CMS needs a base URL, and an AK and SK or an API Fabric token")
	}
	if strings.Contains(cfg.AK, "/") {
		return nil, gateway.Errorf(gateway.CodeBadRequest, "huawei: CMS AK must not contain '/'")
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &CMSClient{base: strings.TrimRight(cfg.BaseURL, "/"), ak: cfg.AK, sk: cfg.SK, bearer: cfg.Bearer,
		ccid: cfg.CCID, vdn: cfg.VDN, hc: hc, now: now, log: log}, nil
}

// cmsSuccess is the CMS resultCode for success.
const cmsSuccess = "0100000"

// Post sends body as JSON to path (e.g. /rest/cmsapp/v1/openapi/...),
// signed with auth-v2 (or with the C1 bearer token), and decodes the
// answer into out (may be nil). A resultCode other than 0100000 is an
// error carrying that code and resultDesc.
func (c *CMSClient) Post(ctx context.Context, path string, body, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return gateway.Errorf(gateway.CodeBadRequest, "CMS request body: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(raw))
	if err != nil {
		return gateway.Errorf(gateway.CodeBadRequest, "CMS request: bad path")
	}
	req.Host = req.URL.Host // signed as sent (spec §2.2.2 A9)
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	req.ContentLength = int64(len(raw))
	if err := c.authorize(ctx, req, raw); err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.log.Warn("huawei: CMS request failed", "path", path, "err", redactURLErr(err))
		return gateway.Errorf(gateway.CodeUnavailable, "CMS unreachable / 无法连接 CMS")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		c.log.Warn("huawei: CMS refused", "path", path, "status", resp.StatusCode)
		return gateway.Errorf(gateway.CodeUnavailable, "CMS answered HTTP %d / CMS 返回 HTTP %d", resp.StatusCode, resp.StatusCode)
	}
	var whole json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&whole); err != nil {
		return gateway.Errorf(gateway.CodeUnavailable, "CMS response unreadable / CMS 响应无法解析")
	}
	var head struct {
		ResultCode flexString      `json:"resultCode"`
		ResultDesc json.RawMessage `json:"resultDesc"` // text on failure, the rows on success
	}
	_ = json.Unmarshal(whole, &head)
	if head.ResultCode != "" && head.ResultCode != cmsSuccess {
		var desc flexString
		_ = json.Unmarshal(head.ResultDesc, &desc)
		c.log.Info("huawei: CMS query failed", "path", path, "resultCode", head.ResultCode.String())
		return gateway.Errorf(gateway.CodeUnavailable, "CMS result %s: %s / CMS 查询失败", head.ResultCode, desc)
	}
	if out != nil {
		if err := json.Unmarshal(whole, out); err != nil {
			return gateway.Errorf(gateway.CodeInternal, "CMS response shape: %v", err)
		}
	}
	return nil
}

// authorize puts the C2 signature (or the C1 bearer token) on req.
func (c *CMSClient) authorize(ctx context.Context, req *http.Request, body []byte) error {
	if c.ak == "" {
		return c.bearer.Authorize(ctx, req)
	}
	parts, err := signAuthV2(authV2Input{
		Method: req.Method,
		URI:    req.URL.EscapedPath(),
		Query:  firstValues(req.URL.Query()),
		Headers: map[string]string{
			"host":           req.Host,
			"content-type":   req.Header.Get("Content-Type"),
			"content-length": strconv.Itoa(len(body)),
		},
		Body: string(body),
		AK:   c.ak, SK: c.sk,
		Time: authV2Time(c.now()),
	})
	if err != nil {
		return gateway.Errorf(gateway.CodeInternal, "CMS signing failed")
	}
	req.Header.Set("Authorization", parts.Authorization())
	return nil
}

// firstValues keeps the first value of each query parameter (the demo
// signs a single-valued map).
func firstValues(q map[string][]string) map[string]string {
	if len(q) == 0 {
		return nil
	}
	m := make(map[string]string, len(q))
	for k, v := range q {
		if len(v) > 0 {
			m[k] = v[0]
		} else {
			m[k] = ""
		}
	}
	return m
}

// String hides the secrets if a CMSConfig is ever printed.
func (c CMSConfig) String() string { return fmt.Sprintf("CMSConfig{BaseURL:%s}", c.BaseURL) }

// String hides the secrets if a FabricConfig is ever printed.
func (c FabricConfig) String() string { return fmt.Sprintf("FabricConfig{BaseURL:%s}", c.BaseURL) }
