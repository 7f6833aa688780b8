package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer   = "crm.example"
	testAudience = "agentbar"
	testAgent    = "agent-7"
	testUnix     = 1_800_000_000
)

// testNow is the fixed clock of the tests.
func testNow() time.Time { return time.Unix(testUnix, 0) }

// testKeys are the keys one test signs and verifies with.
type testKeys struct {
	hmac     []byte
	edPriv   ed25519.PrivateKey
	edPub    ed25519.PublicKey
	otherEd  ed25519.PrivateKey
	rsaPriv  *rsa.PrivateKey
	rsaPEM   []byte // the RSA public key as PEM, the classic confusion secret
	rsaRS384 *rsa.PrivateKey
}

func newTestKeys(t testing.TB, withRSA bool) testKeys {
	t.Helper()
	k := testKeys{hmac: bytes.Repeat([]byte{0x5a}, MinHMACKeyLen)}
	k.edPriv = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	k.edPub = k.edPriv.Public().(ed25519.PublicKey)
	k.otherEd = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, ed25519.SeedSize))
	if withRSA {
		var err error
		if k.rsaPriv, err = rsa.GenerateKey(rand.Reader, MinRSABits); err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&k.rsaPriv.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		k.rsaPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	return k
}

// claimsAt are valid claims for testNow; edit replaces keys, and a nil
// value deletes one.
func claimsAt(edit map[string]any) jwt.MapClaims {
	now := testNow()
	c := jwt.MapClaims{
		"iss":  testIssuer,
		"aud":  testAudience,
		"sub":  testAgent,
		"name": "Ada",
		"iat":  now.Unix(),
		"exp":  now.Add(10 * time.Minute).Unix(),
	}
	for k, v := range edit {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func sign(t testing.TB, m jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// rawToken assembles a token from a literal header and payload.
func rawToken(header, payload, sig string) string {
	return b64(header) + "." + b64(payload) + "." + sig
}

func verifierFor(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	cfg.Issuer, cfg.Audience, cfg.Now = testIssuer, testAudience, testNow
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerify(t *testing.T) {
	k := newTestKeys(t, true)
	now := testNow()
	hmacOnly := Config{HMACKey: k.hmac}
	edOnly := Config{PublicKey: k.edPub}
	rsaOnly := Config{PublicKey: &k.rsaPriv.PublicKey}
	hmacRSA := Config{HMACKey: k.hmac, PublicKey: &k.rsaPriv.PublicKey}
	validHS := sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(nil))
	parts := strings.Split(validHS, ".")

	tests := []struct {
		name  string
		cfg   Config
		token string
		want  Code // "" means accepted
	}{
		{"valid HS256", hmacOnly, validHS, ""},
		{"valid EdDSA", edOnly, sign(t, jwt.SigningMethodEdDSA, k.edPriv, claimsAt(nil)), ""},
		{"valid RS256", rsaOnly, sign(t, jwt.SigningMethodRS256, k.rsaPriv, claimsAt(nil)), ""},
		{"valid HS256 with RSA also configured", hmacRSA, validHS, ""},
		{"valid RS256 with HMAC also configured", hmacRSA, sign(t, jwt.SigningMethodRS256, k.rsaPriv, claimsAt(nil)), ""},
		{"valid audience list", hmacOnly, sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"aud": []string{"other", testAudience}})), ""},
		{"expired within leeway", hmacOnly, sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"iat": now.Add(-10 * time.Minute).Unix(), "exp": now.Add(-20 * time.Second).Unix()})), ""},
		{"nbf within leeway", hmacOnly, sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"nbf": now.Add(20 * time.Second).Unix()})), ""},
		{"no iat, exactly max lifetime", hmacOnly, sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"iat": nil, "exp": now.Add(time.Hour).Unix()})), ""},
		{"iat, exactly max lifetime", hmacOnly, sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"iat": now.Add(-30 * time.Minute).Unix(), "exp": now.Add(30 * time.Minute).Unix()})), ""},

		{"alg none", hmacOnly, rawToken(`{"alg":"none","typ":"JWT"}`, `{"iss":"crm.example","aud":"agentbar","sub":"agent-7","exp":1800000600}`, ""), CodeTokenBadAlgorithm},
		{"alg none with signature", hmacOnly, rawToken(`{"alg":"none"}`, `{"iss":"crm.example","aud":"agentbar","sub":"agent-7","exp":1800000600}`, parts[2]), CodeTokenBadAlgorithm},
		{"alg missing", hmacOnly, rawToken(`{"typ":"JWT"}`, `{"sub":"agent-7"}`, parts[2]), CodeTokenBadAlgorithm},
		{"alg unknown", hmacOnly, rawToken(`{"alg":"XS999"}`, `{"sub":"agent-7"}`, parts[2]), CodeTokenBadAlgorithm},
		{"HS256 when only Ed25519 configured", edOnly, sign(t, jwt.SigningMethodHS256, []byte(k.edPub), claimsAt(nil)), CodeTokenBadAlgorithm},
		{"RS256 to HS256 key confusion, RSA only", rsaOnly, sign(t, jwt.SigningMethodHS256, k.rsaPEM, claimsAt(nil)), CodeTokenBadAlgorithm},
		{"RS256 to HS256 key confusion, HMAC and RSA", hmacRSA, sign(t, jwt.SigningMethodHS256, k.rsaPEM, claimsAt(nil)), CodeTokenBadSignature},
		{"EdDSA when only HMAC configured", hmacOnly, sign(t, jwt.SigningMethodEdDSA, k.edPriv, claimsAt(nil)), CodeTokenBadAlgorithm},
		{"HS512 with the HMAC key", hmacOnly, sign(t, jwt.SigningMethodHS512, k.hmac, claimsAt(nil)), CodeTokenBadAlgorithm},
		{"RS384 with the RSA key", rsaOnly, sign(t, jwt.SigningMethodRS384, k.rsaPriv, claimsAt(nil)), CodeTokenBadAlgorithm},

		{"wrong audience", hmacOnly, sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"aud": "billing"})), CodeTokenBadAudience},
		{"missing audience", hmacOnly, sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"aud": nil})), CodeTokenBadAudience},
		{"wrong issuer", hmacOnly, sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"iss": "evil.example"})), CodeTokenBadIssuer},
		{"missing issuer", hmacOnly, sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"iss": nil})), CodeTokenBadIssuer},
		{"expired beyond leeway", hmacOnly, sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"iat": now.Add(-10 * time.Minute).Unix(), "exp": now.Add(-31 * time.Second).Unix()})), CodeTokenExpired},
		{"not yet valid (nbf)", hmacOnly, sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"nbf": now.Add(5 * time.Minute).Unix()})), CodeTokenNotYetValid},
		{"issued in the future (iat)", hmacOnly, sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"iat": now.Add(5 * time.Minute).Unix()})), CodeTokenNotYetValid},
		{"missing exp", hmacOnly, sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"exp": nil})), CodeTokenNoExpiry},
		{"exp of wrong type", hmacOnly, sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"exp": "tomorrow"})), CodeTokenMalformed},
		{"too long-lived (iat)", hmacOnly, sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"exp": now.Add(2 * time.Hour).Unix()})), CodeTokenTooLongLived},
		{"too long-lived (old iat)", hmacOnly, sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(5 * time.Minute).Unix()})), CodeTokenTooLongLived},
		{"too long-lived (no iat)", hmacOnly, sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"iat": nil, "exp": now.Add(time.Hour + 31*time.Second).Unix()})), CodeTokenTooLongLived},
		{"far-future iat hides lifetime", hmacOnly, sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"iat": now.Add(24 * time.Hour).Unix(), "exp": now.Add(25 * time.Hour).Unix()})), CodeTokenNotYetValid},
		{"missing subject", hmacOnly, sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"sub": nil})), CodeTokenNoSubject},
		{"empty subject", hmacOnly, sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"sub": ""})), CodeTokenNoSubject},

		{"tampered payload", hmacOnly, parts[0] + "." + b64(`{"iss":"crm.example","aud":"agentbar","sub":"admin","iat":1800000000,"exp":1800000600}`) + "." + parts[2], CodeTokenBadSignature},
		{"tampered signature", hmacOnly, parts[0] + "." + parts[1] + "." + flipChar(parts[2], 5), CodeTokenBadSignature},
		{"signature with non-canonical trailing bits", hmacOnly, parts[0] + "." + parts[1] + "." + nonCanonical(parts[2]), CodeTokenMalformed},
		{"signature stripped", hmacOnly, parts[0] + "." + parts[1] + ".", CodeTokenBadSignature},
		{"wrong HMAC key", hmacOnly, sign(t, jwt.SigningMethodHS256, bytes.Repeat([]byte{0x33}, MinHMACKeyLen), claimsAt(nil)), CodeTokenBadSignature},
		{"wrong Ed25519 key", edOnly, sign(t, jwt.SigningMethodEdDSA, k.otherEd, claimsAt(nil)), CodeTokenBadSignature},

		{"empty", hmacOnly, "", CodeTokenMalformed},
		{"garbage", hmacOnly, "not a token at all", CodeTokenMalformed},
		{"two segments", hmacOnly, parts[0] + "." + parts[1], CodeTokenMalformed},
		{"four segments", hmacOnly, validHS + ".x", CodeTokenMalformed},
		{"bad base64", hmacOnly, "a.b.c", CodeTokenMalformed},
		{"header not JSON", hmacOnly, b64("alg=HS256") + "." + parts[1] + "." + parts[2], CodeTokenMalformed},
		{"payload not JSON", hmacOnly, parts[0] + "." + b64("[1,2") + "." + parts[2], CodeTokenMalformed},
		{"too long", hmacOnly, parts[0] + "." + strings.Repeat("A", MaxTokenLen) + "." + parts[2], CodeTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := verifierFor(t, tt.cfg)
			claims, err := v.Verify(tt.token)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if claims.Agent() != testAgent || claims.Name != "Ada" {
					t.Fatalf("claims = %+v", claims)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify accepted, want %s", tt.want)
			}
			if claims != nil {
				t.Errorf("claims returned with error")
			}
			if got := CodeOf(err); got != tt.want {
				t.Errorf("code = %q (%v), want %q", got, err, tt.want)
			}
			if !errors.Is(err, tt.want) || !errors.Is(err, &Error{Code: tt.want}) {
				t.Errorf("errors.Is(%v, %s) = false", err, tt.want)
			}
			if len(tt.token) >= 8 && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error message contains the token")
			}
			for _, p := range strings.Split(tt.token, ".") {
				if len(p) >= 8 && strings.Contains(err.Error(), p) {
					t.Errorf("error message contains a token segment")
				}
			}
		})
	}
}

// flipChar changes the base64url character at i to another one.
func flipChar(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// nonCanonical sets the unused low bits of the last character of an
// unpadded base64url HS256 signature (43 characters, 2 spare bits), which
// a lenient decoder would map to the same bytes.
func nonCanonical(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last|1])
}

func TestVerifyClaimsFields(t *testing.T) {
	k := newTestKeys(t, false)
	v := verifierFor(t, Config{HMACKey: k.hmac})
	tok := sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"tenant": "acme", "jti": "id-1"}))
	c, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ field, got, want string }{
		{"agent", c.Agent(), testAgent},
		{"name", c.Name, "Ada"},
		{"tenant", c.Tenant, "acme"},
		{"issuer", c.Issuer, testIssuer},
		{"id", c.ID, "id-1"},
		{"expires", c.ExpiresAt.UTC().String(), testNow().Add(10 * time.Minute).UTC().String()},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.field, tt.got, tt.want)
		}
	}
}

func TestVerifyClock(t *testing.T) {
	k := newTestKeys(t, false)
	tok := sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(nil)) // iat now, exp now+10m
	tests := []struct {
		name   string
		offset time.Duration
		leeway time.Duration
		want   Code
	}{
		{"at issue", 0, 0, ""},
		{"just before expiry", 10*time.Minute - time.Second, 0, ""},
		{"in default leeway after expiry", 10*time.Minute + 29*time.Second, 0, ""},
		{"past default leeway", 10*time.Minute + 30*time.Second, 0, CodeTokenExpired},
		{"custom leeway", 10*time.Minute + 30*time.Second, 2 * time.Minute, ""},
		{"before issue beyond leeway", -31 * time.Second, 0, CodeTokenNotYetValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(Config{
				Issuer: testIssuer, Audience: testAudience, HMACKey: k.hmac, Leeway: tt.leeway,
				Now: func() time.Time { return testNow().Add(tt.offset) },
			})
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

func TestNewVerifier(t *testing.T) {
	key := bytes.Repeat([]byte{7}, MinHMACKeyLen)
	edPub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize)).Public()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	base := func(edit func(*Config)) Config {
		c := Config{Issuer: testIssuer, Audience: testAudience, HMACKey: key}
		edit(&c)
		return c
	}
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"HMAC", base(func(*Config) {}), false},
		{"Ed25519 only", base(func(c *Config) { c.HMACKey, c.PublicKey = nil, edPub }), false},
		{"HMAC and Ed25519", base(func(c *Config) { c.PublicKey = edPub }), false},
		{"no key", base(func(c *Config) { c.HMACKey = nil }), true},
		{"empty HMAC key", base(func(c *Config) { c.HMACKey = []byte{} }), true},
		{"short HMAC key", base(func(c *Config) { c.HMACKey = key[:MinHMACKeyLen-1] }), true},
		{"short Ed25519 key", base(func(c *Config) { c.PublicKey = ed25519.PublicKey(key[:16]) }), true},
		{"weak RSA key", base(func(c *Config) { c.PublicKey = &small.PublicKey }), true},
		{"nil RSA key", base(func(c *Config) { c.PublicKey = (*rsa.PublicKey)(nil) }), true},
		{"ECDSA key", base(func(c *Config) { c.PublicKey = &ec.PublicKey }), true},
		{"private key", base(func(c *Config) { c.PublicKey = ed25519.NewKeyFromSeed(key) }), true},
		{"no issuer", base(func(c *Config) { c.Issuer = "" }), true},
		{"no audience", base(func(c *Config) { c.Audience = "" }), true},
		{"negative leeway", base(func(c *Config) { c.Leeway = -time.Second }), true},
		{"negative max lifetime", base(func(c *Config) { c.MaxLifetime = -time.Second }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && v == nil {
				t.Fatal("nil verifier without error")
			}
		})
	}
}

func TestVerifierCopiesKey(t *testing.T) {
	k := newTestKeys(t, false)
	key := bytes.Clone(k.hmac)
	v := verifierFor(t, Config{HMACKey: key})
	tok := sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(nil))
	key[0] ^= 0xff
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("caller's key change affected the verifier: %v", err)
	}
}

func TestVerifyConcurrent(t *testing.T) {
	k := newTestKeys(t, false)
	v := verifierFor(t, Config{HMACKey: k.hmac, PublicKey: k.edPub})
	tokens := []struct {
		token string
		want  Code
	}{
		{sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(nil)), ""},
		{sign(t, jwt.SigningMethodEdDSA, k.edPriv, claimsAt(nil)), ""},
		{sign(t, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"aud": "x"})), CodeTokenBadAudience},
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				for _, tt := range tokens {
					if _, err := v.Verify(tt.token); CodeOf(err) != tt.want {
						t.Errorf("code = %q, want %q", CodeOf(err), tt.want)
					}
				}
			}
		})
	}
	wg.Wait()
}

func FuzzVerify(f *testing.F) {
	k := newTestKeys(f, false)
	v := verifierFor(f, Config{HMACKey: k.hmac, PublicKey: k.edPub})
	valid := sign(f, jwt.SigningMethodHS256, k.hmac, claimsAt(nil))
	parts := strings.Split(valid, ".")
	for _, s := range []string{
		valid,
		sign(f, jwt.SigningMethodEdDSA, k.edPriv, claimsAt(nil)),
		sign(f, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"exp": 1e300, "iat": -1e300})),
		sign(f, jwt.SigningMethodHS256, k.hmac, claimsAt(map[string]any{"aud": []any{1, nil}})),
		rawToken(`{"alg":"none"}`, `{"sub":"x"}`, ""),
		rawToken(`{"alg":["HS256"]}`, `{}`, parts[2]),
		parts[0] + "." + b64(`{"exp":"x"}`) + "." + parts[2],
		"", ".", "..", "a.b.c", "eyJ.eyJ.", strings.Repeat(".", 100),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := v.Verify(token)
		if err != nil {
			if claims != nil {
				t.Fatal("claims returned with an error")
			}
			if CodeOf(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			if len(token) >= 8 && strings.Contains(err.Error(), token) {
				t.Fatal("error message contains the token")
			}
			return
		}
		if claims.Agent() == "" || claims.ExpiresAt == nil {
			t.Fatalf("accepted claims without agent or expiry: %+v", claims)
		}
	})
}

func BenchmarkVerifyHS256(b *testing.B) {
	k := newTestKeys(b, false)
	v := verifierFor(b, Config{HMACKey: k.hmac})
	tok := sign(b, jwt.SigningMethodHS256, k.hmac, claimsAt(nil))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}
