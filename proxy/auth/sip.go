package auth

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"math"
	"strconv"
	"strings"
	"time"
)

// SIPCredentials are ephemeral SIP digest credentials for one agent.
type SIPCredentials struct {
	// Username is "<unix expiry>:<agent>".
	Username string
	// Password is base64(HMAC-SHA1(secret, Username)).
	Password string
	// Expires is the expiry written in Username. The registrar accepts the
	// credentials through that whole second and refuses them after it.
	Expires time.Time
}

// NewSIPCredentials makes credentials for agent that expire ttl after now
// (rounded down to the second). agent should be a valid SIP user part; ttl
// should be positive.
func NewSIPCredentials(secret []byte, agent string, ttl time.Duration, now time.Time) SIPCredentials {
	exp := now.Add(ttl).Unix()
	username := strconv.FormatInt(exp, 10) + ":" + agent
	return SIPCredentials{
		Username: username,
		Password: SIPPassword(secret, username),
		Expires:  time.Unix(exp, 0),
	}
}

// SIPPassword is the digest password for username: the standard base64
// (padded) of HMAC-SHA1 keyed with secret over the username, as Kamailio's
// auth_ephemeral computes it with its default SHA-1 setting.
func SIPPassword(secret []byte, username string) string {
	m := hmac.New(sha1.New, secret)
	m.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// CheckSIPUsername parses a "<unix expiry>:<agent>" username and returns
// the agent. It refuses (CodeSIPMalformed) a username whose expiry is not
// a plain decimal that fits in 32 bits unsigned (what Kamailio parses), or
// whose agent is empty or contains spaces or control characters; and
// (CodeSIPExpired) one whose expiry second is before now's. It does not
// check the password.
func CheckSIPUsername(username string, now time.Time) (agent string, err error) {
	ts, agent, ok := strings.Cut(username, ":")
	if !ok || ts == "" || agent == "" || len(ts) > 10 {
		return "", refuse(CodeSIPMalformed)
	}
	for i := 0; i < len(ts); i++ {
		if ts[i] < '0' || ts[i] > '9' {
			return "", refuse(CodeSIPMalformed)
		}
	}
	exp, err := strconv.ParseUint(ts, 10, 64)
	if err != nil || exp > math.MaxUint32 {
		return "", refuse(CodeSIPMalformed)
	}
	for i := 0; i < len(agent); i++ {
		if c := agent[i]; c <= ' ' || c == 0x7f {
			return "", refuse(CodeSIPMalformed)
		}
	}
	if now.Unix() > int64(exp) {
		return "", refuse(CodeSIPExpired)
	}
	return agent, nil
}
