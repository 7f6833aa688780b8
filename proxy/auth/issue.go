package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer mints the proxy's own HS256 agent tokens. It is safe for
// concurrent use.
type Issuer struct {
	key      []byte
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
}

// NewIssuer returns an Issuer that signs with key (at least MinHMACKeyLen
// bytes, copied), names issuer and audience, and makes tokens that live
// for ttl (whole seconds; it should not exceed the verifiers'
// MaxLifetime). now is the clock; nil means time.Now.
func NewIssuer(key []byte, issuer, audience string, ttl time.Duration, now func() time.Time) (*Issuer, error) {
	if len(key) < MinHMACKeyLen {
		return nil, fmt.Errorf("auth: HMAC key has %d bytes, need at least %d", len(key), MinHMACKeyLen)
	}
	if issuer == "" || audience == "" {
		return nil, errors.New("auth: issuer needs an issuer and an audience")
	}
	if ttl < time.Second {
		return nil, errors.New("auth: token lifetime must be at least one second")
	}
	if now == nil {
		now = time.Now
	}
	return &Issuer{key: slices.Clone(key), issuer: issuer, audience: audience, ttl: ttl, now: now}, nil
}

// Issue mints a token for agent (the subject) with display name name
// (omitted when empty). It returns the token and its expiry, which is
// exact to the second as written in the token. Each token gets a random
// id (jti).
func (i *Issuer) Issue(agent, name string) (token string, expires time.Time, err error) {
	if agent == "" {
		return "", time.Time{}, errors.New("auth: cannot issue a token without an agent")
	}
	iat := time.Unix(i.now().Unix(), 0)
	exp := time.Unix(iat.Add(i.ttl).Unix(), 0)
	claims := &Claims{
		Name: name,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   agent,
			Audience:  jwt.ClaimStrings{i.audience},
			ExpiresAt: &jwt.NumericDate{Time: exp},
			IssuedAt:  &jwt.NumericDate{Time: iat},
			ID:        rand.Text(),
		},
	}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(i.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: signing token: %w", err)
	}
	return token, exp, nil
}
