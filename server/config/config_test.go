package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSampleConfig(t *testing.T) {
	c, err := Load("../../agentbar.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if len(c.CallCenter.Agents) != 4 || len(c.CallCenter.Queues) != 2 {
		t.Fatalf("sample: %d agents, %d queues; want 4 and 2", len(c.CallCenter.Agents), len(c.CallCenter.Queues))
	}
	if c.Listen != "127.0.0.1:8080" || c.CallCenter.WrapUp != 30*time.Second || c.CallCenter.TrunkListen != "127.0.0.1:5070" {
		t.Fatalf("sample values: %+v", c)
	}
}

func TestEnvOverridesAndChecks(t *testing.T) {
	env := map[string]string{"AGENTBAR_LISTEN": "127.0.0.1:9999", "AGENTBAR_ALLOWED_ORIGINS": "https://a.example,https://b.example"}
	c, err := Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" || c.PublicURL != "http://127.0.0.1:9999" || len(c.AllowedOrigins) != 2 {
		t.Fatalf("env not applied: %+v", c)
	}
	env["AGENTBAR_AUTH_HMAC_KEY"] = "short"
	if _, err := Load("", func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "hmac_key") {
		t.Fatalf("short key accepted: %v", err)
	}
	delete(env, "AGENTBAR_AUTH_HMAC_KEY")
	late := filepath.Join(t.TempDir(), "late.yaml")
	os.WriteFile(late, []byte("auth:\n  token_ttl: 1m\n  token_warning: 1m\n"), 0o600)
	if _, err := Load(late, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "token_warning") {
		t.Fatalf("a warning no earlier than the expiry accepted: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("listen: x\nno_such_key: 1\n"), 0o600)
	if _, err := Load(bad, func(string) string { return "" }); err == nil {
		t.Fatal("unknown key accepted")
	}
}

func TestGatewaySection(t *testing.T) {
	c, err := Load("", func(k string) string { return map[string]string{"AGENTBAR_GATEWAY": "huawei"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	hw := c.Gateway.Huawei
	if c.Gateway.Kind != GatewayHuawei || hw.BaseURL != "" || !*hw.ManualAnswer || !*hw.WrapUp || hw.Demo.Listen != "127.0.0.1:0" {
		t.Fatalf("AGENTBAR_GATEWAY=huawei: %+v", c.Gateway)
	}
	if c, err := Load("../../agentbar.yaml", func(string) string { return "" }); err != nil || c.Gateway.Kind != GatewayLocal {
		t.Fatalf("sample: kind %q, %v", c.Gateway.Kind, err)
	}

	path := filepath.Join(t.TempDir(), "hw.yaml")
	os.WriteFile(path, []byte(`gateway:
  kind: huawei
  huawei:
    base_url: https://cc-gw.example.com:8043
    ca_file: /etc/ca.pem
    agents:
      "a.1": {work_no: "101", phone: "40038"}
    poll: {min_gap: 300ms, resign_in_attempts: 5}
    call_data_timeout: 1500ms
    cms: {base_url: https://cms.example.com, stats_ttl: 10s}
`), 0o600)
	env := map[string]string{
		"AGENTBAR_HUAWEI_PASSWORD_A_1": "cti-secret",
		"AGENTBAR_HUAWEI_CMS_AK":       "ak", "AGENTBAR_HUAWEI_CMS_SK": "sk",
	}
	c, err = Load(path, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	hw = c.Gateway.Huawei
	if a := hw.Agents["a.1"]; a.Password != "cti-secret" || a.WorkNo != "101" || hw.CMS.AK != "ak" || hw.CMS.SK != "sk" || hw.Poll.MinGap != 300*time.Millisecond || hw.Poll.ResignInAttempts != 5 || hw.CAFile != "/etc/ca.pem" || hw.InsecureSkipVerify || hw.CallDataTimeout != 1500*time.Millisecond || hw.CMS.StatsTTL != 10*time.Second {
		t.Fatalf("huawei section: %+v", hw)
	}
	// Errors name the setting, never the secret.
	delete(env, "AGENTBAR_HUAWEI_PASSWORD_A_1")
	delete(env, "AGENTBAR_HUAWEI_CMS_SK")
	_, err = Load(path, func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "AGENTBAR_HUAWEI_PASSWORD_A_1") || !strings.Contains(err.Error(), "cms") || strings.Contains(err.Error(), "ak\"") {
		t.Fatalf("missing secrets: %v", err)
	}
	if _, err := Load("", func(k string) string { return map[string]string{"AGENTBAR_GATEWAY": "genesys"}[k] }); err == nil {
		t.Fatal("unknown gateway kind accepted")
	}
}

func TestHuaweiEvents(t *testing.T) {
	load := func(env map[string]string, yaml string) (*Config, error) {
		path := ""
		if yaml != "" {
			path = filepath.Join(t.TempDir(), "c.yaml")
			os.WriteFile(path, []byte(yaml), 0o600)
		}
		return Load(path, func(k string) string { return env[k] })
	}
	c, err := load(map[string]string{"AGENTBAR_GATEWAY": "huawei"}, "")
	if err != nil || c.Gateway.Huawei.Events != HuaweiPollEvents {
		t.Fatalf("default events %q (%v)", c.Gateway.Huawei.Events, err)
	}
	c, err = load(map[string]string{"AGENTBAR_GATEWAY": "huawei", "AGENTBAR_HUAWEI_EVENTS": "push"}, "")
	if err != nil || c.Gateway.Huawei.Events != HuaweiPushEvents {
		t.Fatalf("AGENTBAR_HUAWEI_EVENTS=push: %q (%v)", c.Gateway.Huawei.Events, err)
	}
	c, err = load(nil, "gateway:\n  kind: huawei\n  huawei:\n    events: push\n    push: {callback_url: https://bar.example.com/v1/huawei/agentevent/pushresult, heartbeat: 20s}\n")
	if err != nil || c.Gateway.Huawei.Push.Heartbeat != 20*time.Second {
		t.Fatalf("push section: %+v (%v)", c.Gateway.Huawei.Push, err)
	}
	for _, bad := range []string{
		"gateway:\n  kind: huawei\n  huawei:\n    events: websocket\n",
		"gateway:\n  kind: huawei\n  huawei:\n    push: {callback_url: ftp://x}\n",
		"gateway:\n  kind: huawei\n  huawei:\n    push: {heartbeat: 2m}\n",
	} {
		if _, err := load(nil, bad); err == nil || !strings.Contains(err.Error(), "gateway.huawei.") {
			t.Errorf("accepted: %s (%v)", bad, err)
		}
	}
}
