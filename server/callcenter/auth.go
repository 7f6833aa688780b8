package callcenter

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/agentbar/agentbar/sip/digest"
	"github.com/emiago/sipgo/sip"
)

// nonceLifetime is how long a digest nonce we issued stays good.
const nonceLifetime = 5 * time.Minute

// nonceKey signs our nonces, so that they need no storage.
type nonceKey [32]byte

// makeNonce is a nonce for time t: the time and a MAC over it.
func (k *nonceKey) makeNonce(t time.Time) string {
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(t.UnixNano()))
	m := hmac.New(sha256.New, k[:])
	m.Write(ts[:])
	return hex.EncodeToString(ts[:]) + hex.EncodeToString(m.Sum(nil)[:12])
}

// checkNonce tells whether n is a nonce we made (valid) and still good
// at now (fresh).
func (k *nonceKey) checkNonce(n string, now time.Time) (valid, fresh bool) {
	b, err := hex.DecodeString(n)
	if err != nil || len(b) != 20 {
		return false, false
	}
	m := hmac.New(sha256.New, k[:])
	m.Write(b[:8])
	if !hmac.Equal(m.Sum(nil)[:12], b[8:]) {
		return false, false
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(b[:8])))
	return true, now.Sub(issued) < nonceLifetime && !issued.After(now.Add(time.Minute))
}

// agentOfUsername maps a digest username to its agent: "<expiry>:<agent>"
// (ephemeral credentials) or the agent ID itself. expired is set for an
// ephemeral username whose expiry has passed.
func agentOfUsername(username string, now time.Time) (agentID string, expired bool) {
	exp, id, ok := strings.Cut(username, ":")
	if !ok {
		return username, false
	}
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return id, true
	}
	return id, now.Unix() > n
}

// authResult is the outcome of checking a REGISTER's credentials.
type authResult int

const (
	authOK        authResult = iota
	authChallenge            // no (usable) credentials: 401 with a challenge
	authStale                // a good answer to an old nonce: 401 stale=true
	authForbidden            // wrong password, unknown or expired user: 403
)

// authenticate checks req's digest credentials for agent agentID.
func (cc *CallCenter) authenticate(req *sip.Request, agentID string) authResult {
	if cc.cfg.SIPPassword == nil {
		return authOK
	}
	var cr *digest.Credentials
	for _, h := range req.GetHeaders("Authorization") {
		c, err := digest.ParseCredentials(h.Value())
		if err == nil && c.Realm == cc.cfg.Domain {
			cr = c
			break
		}
	}
	if cr == nil {
		return authChallenge
	}
	now := cc.now()
	valid, fresh := cc.nonce.checkNonce(cr.Nonce, now)
	if !valid {
		return authChallenge
	}
	if alg := strings.ToUpper(cr.Algorithm); alg != "" && alg != "MD5" || !strings.EqualFold(cr.QOP, "auth") {
		return authChallenge
	}
	id, expired := agentOfUsername(cr.Username, now)
	if expired || id != agentID {
		return authForbidden
	}
	password, ok := cc.cfg.SIPPassword(cr.Username)
	if !ok || !digest.Verify(cr, string(req.Method), password, req.Body()) {
		return authForbidden
	}
	if !fresh {
		return authStale
	}
	return authOK
}

// challenge is a WWW-Authenticate header with a fresh nonce.
func (cc *CallCenter) challenge(stale bool) sip.Header {
	ch := digest.Challenge{Realm: cc.cfg.Domain, Nonce: cc.nonce.makeNonce(cc.now()), Algorithm: "MD5", QOP: []string{"auth"}, Stale: stale}
	return sip.NewHeader("WWW-Authenticate", ch.String())
}
