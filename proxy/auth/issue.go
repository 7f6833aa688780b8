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
	return i.sign(&Claims{Name: name, AuthTime: &jwt.NumericDate{Time: iat}}, agent, iat, iat.Add(i.ttl))
}

// Renew mints a fresh token for the session old (claims a Verifier
// accepted): same agent, name, tenant and auth_time, a new lifetime, but
// never past auth_time + maxSession, after which the agent must sign in
// again. Renewing a token that already lasts to that end is refused as
// CodeSessionOver too, so that the bar can say so before the end rather
// than renew in vain. A bar renews before its token expires without
// keeping the password.
func (i *Issuer) Renew(old *Claims, maxSession time.Duration) (token string, expires time.Time, err error) {
	if old == nil || old.Subject == "" {
		return "", time.Time{}, errors.New("auth: cannot renew a token without an agent")
	}
	auth := old.AuthTime
	if auth == nil {
		auth = old.IssuedAt
	}
	if auth == nil {
		return "", time.Time{}, CodeSessionOver
	}
	iat := time.Unix(i.now().Unix(), 0)
	end := auth.Add(maxSession)
	if !iat.Before(end) {
		return "", time.Time{}, CodeSessionOver
	}
	if old.ExpiresAt != nil && !end.After(old.ExpiresAt.Time) {
		return "", time.Time{}, CodeSessionOver // old already lasts to the end
	}
	exp := iat.Add(i.ttl)
	if exp.After(end) {
		exp = end
	}
	return i.sign(&Claims{Name: old.Name, Tenant: old.Tenant, AuthTime: &jwt.NumericDate{Time: auth.Time}}, old.Subject, iat, exp)
}

// sign completes claims with the registered claims and signs them.
func (i *Issuer) sign(claims *Claims, agent string, iat, exp time.Time) (token string, expires time.Time, err error) {
	exp = time.Unix(exp.Unix(), 0)
	claims.RegisteredClaims = jwt.RegisteredClaims{
		Issuer:    i.issuer,
		Subject:   agent,
		Audience:  jwt.ClaimStrings{i.audience},
		ExpiresAt: &jwt.NumericDate{Time: exp},
		IssuedAt:  &jwt.NumericDate{Time: iat},
		ID:        rand.Text(),
	}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(i.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: signing token: %w", err)
	}
	return token, exp, nil
}
