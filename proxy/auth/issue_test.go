package auth

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestIssueRoundTrip(t *testing.T) {
	key := bytes.Repeat([]byte{0x42}, MinHMACKeyLen)
	// A clock with a fractional second: the token is exact to the second.
	now := func() time.Time { return testNow().Add(400 * time.Millisecond) }
	iss, err := NewIssuer(key, testIssuer, testAudience, 15*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(Config{Issuer: testIssuer, Audience: testAudience, HMACKey: key, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		agent, name string
	}{
		{"agent-7", "Ada Lovelace"},
		{"1001", ""},
		{"agent:with:colons", "名字"},
	}
	ids := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.agent, func(t *testing.T) {
			tok, exp, err := iss.Issue(tt.agent, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if want := testNow().Add(15 * time.Minute); !exp.Equal(want) {
				t.Errorf("expires = %v, want %v", exp, want)
			}
			c, err := v.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Agent() != tt.agent || c.Name != tt.name || !c.ExpiresAt.Equal(exp) || !c.IssuedAt.Equal(testNow()) {
				t.Errorf("claims = %+v", c)
			}
			if c.ID == "" || ids[c.ID] {
				t.Errorf("jti %q empty or repeated", c.ID)
			}
			ids[c.ID] = true
		})
	}
}

func TestIssuedTokenRefusedElsewhere(t *testing.T) {
	key := bytes.Repeat([]byte{0x42}, MinHMACKeyLen)
	iss, err := NewIssuer(key, testIssuer, testAudience, time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := iss.Issue(testAgent, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want Code
	}{
		{"other key", Config{Issuer: testIssuer, Audience: testAudience, HMACKey: bytes.Repeat([]byte{1}, MinHMACKeyLen), Now: testNow}, CodeTokenBadSignature},
		{"other audience", Config{Issuer: testIssuer, Audience: "other", HMACKey: key, Now: testNow}, CodeTokenBadAudience},
		{"other issuer", Config{Issuer: "other", Audience: testAudience, HMACKey: key, Now: testNow}, CodeTokenBadIssuer},
		{"shorter max lifetime", Config{Issuer: testIssuer, Audience: testAudience, HMACKey: key, Now: testNow, MaxLifetime: 30 * time.Minute}, CodeTokenTooLongLived},
		{"later", Config{Issuer: testIssuer, Audience: testAudience, HMACKey: key, Now: func() time.Time { return testNow().Add(2 * time.Hour) }}, CodeTokenExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(tok)
			if got := CodeOf(err); got != tt.want {
				t.Fatalf("code = %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

func TestNewIssuerErrors(t *testing.T) {
	key := bytes.Repeat([]byte{0x42}, MinHMACKeyLen)
	tests := []struct {
		name             string
		key              []byte
		issuer, audience string
		ttl              time.Duration
		wantErr          bool
	}{
		{"ok", key, "a", "b", time.Minute, false},
		{"short key", key[:31], "a", "b", time.Minute, true},
		{"no key", nil, "a", "b", time.Minute, true},
		{"no issuer", key, "", "b", time.Minute, true},
		{"no audience", key, "a", "", time.Minute, true},
		{"zero ttl", key, "a", "b", 0, true},
		{"sub-second ttl", key, "a", "b", 500 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewIssuer(tt.key, tt.issuer, tt.audience, tt.ttl, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestIssueErrors(t *testing.T) {
	iss, err := NewIssuer(bytes.Repeat([]byte{0x42}, MinHMACKeyLen), testIssuer, testAudience, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, agent string
		wantErr     bool
	}{
		{"agent", "a", false},
		{"no agent", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, _, err := iss.Issue(tt.agent, "")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && strings.Count(tok, ".") != 2 {
				t.Fatalf("token %q is not a compact JWS", tok)
			}
		})
	}
}

// TestRenew: a renewed token keeps the agent, name and auth_time, gets a
// new lifetime capped at auth_time + maxSession, and is refused once the
// session has lasted that long. A token without auth_time (a CRM's) counts
// from its iat.
func TestRenew(t *testing.T) {
	key := bytes.Repeat([]byte{0x42}, MinHMACKeyLen)
	clock := testNow()
	now := func() time.Time { return clock }
	iss, err := NewIssuer(key, testIssuer, testAudience, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(Config{Issuer: testIssuer, Audience: testAudience, HMACKey: key, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := iss.Issue("1001", "Ada")
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.AuthTime == nil || !c.AuthTime.Equal(testNow()) {
		t.Fatalf("auth_time = %v, want the sign-in time %v", c.AuthTime, testNow())
	}
	const maxSession = 150 * time.Minute
	clock = clock.Add(50 * time.Minute)
	tok2, exp2, err := iss.Renew(c, maxSession)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := v.Verify(tok2)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Agent() != "1001" || c2.Name != "Ada" || !c2.AuthTime.Equal(testNow()) || !exp2.Equal(clock.Add(time.Hour)) || c2.ID == c.ID {
		t.Fatalf("renewed claims %+v (auth_time %v), expires %v", c2, c2.AuthTime, exp2)
	}
	clock = clock.Add(50 * time.Minute) // 100 min into the session: capped at 150
	tok3, exp3, err := iss.Renew(c2, maxSession)
	if err != nil || !exp3.Equal(testNow().Add(maxSession)) {
		t.Fatalf("renewal near the end: expires %v, %v; want %v", exp3, err, testNow().Add(maxSession))
	}
	c3, err := v.Verify(tok3)
	if err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(10 * time.Minute) // the session ends with c3: nothing to renew
	if _, exp, err := iss.Renew(c3, maxSession); !errors.Is(err, CodeSessionOver) {
		t.Fatalf("a renewal that would not outlast the token: expires %v, %v; want %v", exp, err, CodeSessionOver)
	}
	clock = testNow().Add(maxSession)
	if _, _, err := iss.Renew(c2, maxSession); !errors.Is(err, CodeSessionOver) {
		t.Fatalf("renewal at the session's end: %v, want %v", err, CodeSessionOver)
	}
	crm := &Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "1002", IssuedAt: jwt.NewNumericDate(testNow())}}
	if _, exp, err := iss.Renew(crm, maxSession); !errors.Is(err, CodeSessionOver) {
		t.Fatalf("a CRM token issued %v ago renewed until %v", maxSession, exp)
	}
	if _, _, err := iss.Renew(&Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "1003"}}, maxSession); !errors.Is(err, CodeSessionOver) {
		t.Fatalf("a token without iat or auth_time renewed: %v", err)
	}
}
