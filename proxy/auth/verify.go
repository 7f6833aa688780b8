package auth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults and limits of a Verifier.
const (
	// DefaultMaxLifetime is the longest lifetime a token may have when
	// Config.MaxLifetime is zero.
	DefaultMaxLifetime = time.Hour
	// DefaultLeeway is the clock skew tolerated when Config.Leeway is zero.
	DefaultLeeway = 30 * time.Second
	// MinHMACKeyLen is the shortest HMAC key accepted, in bytes (the
	// output size of SHA-256).
	MinHMACKeyLen = 32
	// MinRSABits is the smallest RSA modulus accepted, in bits.
	MinRSABits = 2048
	// MaxTokenLen is the longest token Verify will parse, in bytes; longer
	// ones are refused as malformed before any decoding.
	MaxTokenLen = 8 << 10
)

// Claims are the claims of an agent token. The agent id is the standard
// subject claim (sub); [Claims.Agent] returns it.
type Claims struct {
	// Name is the agent's display name, if the token carries one.
	Name string `json:"name,omitempty"`
	// Tenant identifies the agent's organisation, if the token carries one.
	Tenant string `json:"tenant,omitempty"`
	// AuthTime is when the agent proved who they are (the password
	// sign-in); renewed tokens keep it. Absent, the token's iat stands in.
	AuthTime *jwt.NumericDate `json:"auth_time,omitempty"`
	jwt.RegisteredClaims
}

// Agent returns the agent id: the token's subject.
func (c *Claims) Agent() string { return c.Subject }

// Config configures a Verifier. At least one of HMACKey and PublicKey must
// be set; both may be.
type Config struct {
	// Issuer is the required issuer (iss).
	Issuer string
	// Audience is the audience (aud) a token must include.
	Audience string
	// MaxLifetime bounds a token's lifetime: exp - iat, or exp - now (plus
	// Leeway, for skew between the minter's clock and ours) when the token
	// has no iat. Zero means DefaultMaxLifetime.
	MaxLifetime time.Duration
	// Leeway is the clock skew tolerated on exp, nbf and iat. Zero means
	// DefaultLeeway.
	Leeway time.Duration
	// HMACKey is the shared HS256 key, at least MinHMACKeyLen bytes. It is
	// also the key an Issuer signs the proxy's own tokens with.
	HMACKey []byte
	// PublicKey verifies tokens minted elsewhere (a CRM): an
	// ed25519.PublicKey pins EdDSA, an *rsa.PublicKey (at least MinRSABits)
	// pins RS256. Optional.
	PublicKey crypto.PublicKey
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifier checks agent tokens. It is safe for concurrent use.
type Verifier struct {
	parser      *jwt.Parser
	keyFunc     jwt.Keyfunc
	methods     []string
	hmacKey     []byte
	edKey       ed25519.PublicKey
	rsaKey      *rsa.PublicKey
	issuer      string
	audience    string
	maxLifetime time.Duration
	leeway      time.Duration
	now         func() time.Time
}

// NewVerifier checks cfg and returns a Verifier for it. It fails when no
// key is configured, the HMAC key is shorter than MinHMACKeyLen, the public
// key is of an unsupported type or too weak, the issuer or audience is
// empty, or a duration is negative. The keys are copied.
func NewVerifier(cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("auth: verifier needs an issuer")
	}
	if cfg.Audience == "" {
		return nil, errors.New("auth: verifier needs an audience")
	}
	if cfg.MaxLifetime < 0 || cfg.Leeway < 0 {
		return nil, errors.New("auth: negative max lifetime or leeway")
	}
	v := &Verifier{
		issuer:      cfg.Issuer,
		audience:    cfg.Audience,
		maxLifetime: cfg.MaxLifetime,
		leeway:      cfg.Leeway,
		now:         cfg.Now,
	}
	if v.maxLifetime == 0 {
		v.maxLifetime = DefaultMaxLifetime
	}
	if v.leeway == 0 {
		v.leeway = DefaultLeeway
	}
	if v.now == nil {
		v.now = time.Now
	}

	if cfg.HMACKey != nil {
		if len(cfg.HMACKey) < MinHMACKeyLen {
			return nil, fmt.Errorf("auth: HMAC key has %d bytes, need at least %d", len(cfg.HMACKey), MinHMACKeyLen)
		}
		v.hmacKey = slices.Clone(cfg.HMACKey)
		v.methods = append(v.methods, jwt.SigningMethodHS256.Alg())
	}
	switch k := cfg.PublicKey.(type) {
	case nil:
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("auth: Ed25519 public key has %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
		v.edKey = slices.Clone(k)
		v.methods = append(v.methods, jwt.SigningMethodEdDSA.Alg())
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return nil, errors.New("auth: empty RSA public key")
		}
		if k.N.BitLen() < MinRSABits {
			return nil, fmt.Errorf("auth: RSA public key has %d bits, need at least %d", k.N.BitLen(), MinRSABits)
		}
		v.rsaKey = &rsa.PublicKey{N: k.N, E: k.E}
		v.methods = append(v.methods, jwt.SigningMethodRS256.Alg())
	default:
		return nil, fmt.Errorf("auth: unsupported public key type %T (want ed25519.PublicKey or *rsa.PublicKey)", cfg.PublicKey)
	}
	if len(v.methods) == 0 {
		return nil, errors.New("auth: verifier needs an HMAC key or a public key")
	}

	v.keyFunc = v.key
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(v.methods),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(v.audience),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(v.leeway),
		jwt.WithTimeFunc(v.now),
		jwt.WithStrictDecoding(),
	)
	return v, nil
}

// key returns the key pinned to the token's algorithm. The parser has
// already refused algorithms outside v.methods; the switch keeps the
// pinning explicit all the same.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	switch t.Method.Alg() {
	case jwt.SigningMethodHS256.Alg():
		if v.hmacKey != nil {
			return v.hmacKey, nil
		}
	case jwt.SigningMethodEdDSA.Alg():
		if v.edKey != nil {
			return v.edKey, nil
		}
	case jwt.SigningMethodRS256.Alg():
		if v.rsaKey != nil {
			return v.rsaKey, nil
		}
	}
	return nil, errors.New("no key for this algorithm")
}

// Verify checks token and returns its claims. A refusal is an *Error whose
// Code says why; checks run in this order: shape and size, algorithm,
// signature, issuer, audience, expiry present, expiry, not-before and
// issued-at, subject, lifetime.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if token == "" || len(token) > MaxTokenLen {
		return nil, refuse(CodeTokenMalformed)
	}
	claims := new(Claims)
	t, err := v.parser.ParseWithClaims(token, claims, v.keyFunc)
	if err != nil {
		return nil, refuse(v.classify(t, claims, err))
	}
	if claims.Subject == "" {
		return nil, refuse(CodeTokenNoSubject)
	}
	exp := claims.ExpiresAt.Time
	if claims.IssuedAt != nil {
		if exp.Sub(claims.IssuedAt.Time) > v.maxLifetime {
			return nil, refuse(CodeTokenTooLongLived)
		}
	} else if exp.Sub(v.now()) > v.maxLifetime+v.leeway {
		return nil, refuse(CodeTokenTooLongLived)
	}
	return claims, nil
}

// classify maps a parser error to a Code. claims are only consulted once
// the signature has verified (the parser reports claim errors last).
func (v *Verifier) classify(t *jwt.Token, claims *Claims, err error) Code {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return CodeTokenMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// Unknown or missing alg, or no key for it.
		return CodeTokenBadAlgorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		// The parser reports a method outside WithValidMethods as an
		// invalid signature; tell the two apart.
		if t == nil || t.Method == nil || !slices.Contains(v.methods, t.Method.Alg()) {
			return CodeTokenBadAlgorithm
		}
		return CodeTokenBadSignature
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return v.claimsCode(claims, err)
	}
	return CodeTokenMalformed
}

// claimsCode picks one Code for a signed token whose claims failed
// validation. The validator reports every failure at once; the order
// here decides which one the caller sees.
func (v *Verifier) claimsCode(claims *Claims, err error) Code {
	switch {
	case claims.Issuer != v.issuer:
		return CodeTokenBadIssuer
	case !slices.Contains(claims.Audience, v.audience):
		return CodeTokenBadAudience
	case claims.ExpiresAt == nil:
		return CodeTokenNoExpiry
	case errors.Is(err, jwt.ErrTokenExpired):
		return CodeTokenExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return CodeTokenNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return CodeTokenBadIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return CodeTokenBadAudience
	}
	return CodeTokenMalformed
}
