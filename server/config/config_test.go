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
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("listen: x\nno_such_key: 1\n"), 0o600)
	if _, err := Load(bad, func(string) string { return "" }); err == nil {
		t.Fatal("unknown key accepted")
	}
}
