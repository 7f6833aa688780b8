package wspeer

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Minimal server side of SIP digest authentication (RFC 3261 22, RFC 8760):
// MD5 or SHA-256, qop="auth" only. It is written apart from sip/digest on
// purpose: the UA under test answers challenges with sip/digest, and an
// independent verifier catches a mistake both sides would otherwise share.

// authorize checks the credentials of req when the peer has users. It
// returns true if the request may proceed; otherwise it has already
// answered (401/407 with a fresh challenge, or 403).
func (p *Peer) authorize(req *sip.Request, tx sip.ServerTransaction, proxy bool) bool {
	if len(p.cfg.Users) == 0 {
		return true
	}
	reqHdr, chalHdr, code := "Authorization", "WWW-Authenticate", 401
	if proxy {
		reqHdr, chalHdr, code = "Proxy-Authorization", "Proxy-Authenticate", 407
	}

	var creds map[string]string
	for _, h := range req.GetHeaders(reqHdr) {
		c, ok := parseDigest(h.Value())
		if ok && c["realm"] == p.cfg.Realm {
			creds = c
			break
		}
	}
	stale := false
	if creds != nil {
		p.mu.Lock()
		_, known := p.nonces[creds["nonce"]]
		p.mu.Unlock()
		if !known {
			stale = true
		} else if p.verifyDigest(req, creds) {
			return true
		} else {
			p.respond(tx, req, 403, nil)
			return false
		}
	}

	nonce := randHex(16)
	p.mu.Lock()
	p.nonces[nonce] = time.Now()
	p.mu.Unlock()
	chal := fmt.Sprintf(`Digest realm="%s", nonce="%s", algorithm=%s, qop="auth"`, p.cfg.Realm, nonce, p.cfg.Algorithm)
	if stale {
		chal += ", stale=true"
	}
	res := p.newResponse(req, code, nil)
	res.AppendHeader(sip.NewHeader(chalHdr, chal))
	p.send(tx, res)
	return false
}

// verifyDigest checks parsed credentials against the configured users.
func (p *Peer) verifyDigest(req *sip.Request, c map[string]string) bool {
	password, ok := p.cfg.Users[c["username"]]
	if !ok {
		return false
	}
	alg := c["algorithm"]
	if alg == "" {
		alg = "MD5"
	}
	if !strings.EqualFold(alg, p.cfg.Algorithm) {
		return false
	}
	if c["qop"] != "auth" || c["nc"] == "" || c["cnonce"] == "" || c["response"] == "" {
		return false
	}
	// The digest-uri must name the Request-URI.
	var u sip.Uri
	if err := sip.ParseUri(c["uri"], &u); err != nil {
		return false
	}
	if u.User != req.Recipient.User || !strings.EqualFold(u.Host, req.Recipient.Host) || u.Port != req.Recipient.Port {
		return false
	}
	want := digestResponse(p.cfg.Algorithm, c["username"], p.cfg.Realm, password,
		string(req.Method), c["uri"], c["nonce"], c["nc"], c["cnonce"], c["qop"])
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(c["response"]))) == 1
}

// digestResponse computes the request-digest for qop=auth.
func digestResponse(alg, user, realm, password, method, uri, nonce, nc, cnonce, qop string) string {
	var h hash.Hash
	if strings.EqualFold(alg, "SHA-256") {
		h = sha256.New()
	} else {
		h = md5.New()
	}
	sum := func(parts ...string) string {
		h.Reset()
		h.Write([]byte(strings.Join(parts, ":")))
		return hex.EncodeToString(h.Sum(nil))
	}
	ha1 := sum(user, realm, password)
	ha2 := sum(method, uri)
	return sum(ha1, nonce, nc, cnonce, qop, ha2)
}

// parseDigest parses `Digest k=v, k="v", ...` into lower-cased keys.
func parseDigest(v string) (map[string]string, bool) {
	v = strings.TrimSpace(v)
	scheme, rest, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Digest") {
		return nil, false
	}
	out := make(map[string]string)
	s := rest
	for {
		s = strings.TrimLeft(s, " \t\r\n,")
		if s == "" {
			return out, true
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, false
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val strings.Builder
		if strings.HasPrefix(s, `"`) {
			i, closed := 1, false
			for ; i < len(s); i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
					val.WriteByte(s[i])
					continue
				}
				if s[i] == '"' {
					closed = true
					break
				}
				val.WriteByte(s[i])
			}
			if !closed {
				return nil, false
			}
			s = s[i+1:]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val.WriteString(strings.TrimSpace(s[:end]))
			s = s[end:]
		}
		out[key] = val.String()
	}
}
