// Package digest implements HTTP Digest access authentication as used by
// SIP (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760).
//
// It covers both sides of the exchange:
//
//   - a client parses a WWW-Authenticate or Proxy-Authenticate value with
//     [ParseChallenge], computes an Authorization or Proxy-Authorization
//     value with [Respond], and serializes it with [Credentials.String];
//   - a server builds a challenge with [Challenge.String], parses the
//     client's answer with [ParseCredentials] and checks it with [Verify].
//
// Supported algorithms are MD5, MD5-sess, SHA-256, SHA-256-sess,
// SHA-512-256 and SHA-512-256-sess (names are matched case-insensitively).
// Supported qop values are "auth" and "auth-int"; when a challenge offers
// no qop, the RFC 2069 compatible computation is used.
//
// In SIP the digest-uri is the Request-URI of the request being
// authenticated and the method is the request method (for example
// "REGISTER" or "INVITE"). For ACK and CANCEL, RFC 3261 requires reusing
// the credentials of the request they refer to; that is up to the caller.
//
// Parsing follows the auth-param syntax of RFC 7235 and RFC 3261: scheme
// and parameter names are case-insensitive, values are a token or a
// quoted-string with backslash escapes, optional whitespace (including SIP
// line folding) may surround '=' and ',', and empty list elements are
// skipped. Parameters whose grammar is a token (algorithm, stale, qop in
// credentials, nc) are also accepted when quoted, as some implementations
// send them that way; [Challenge.String] and [Credentials.String] always
// emit the canonical form. Unknown parameters are ignored; a repeated known
// parameter is an error.
//
// All errors returned by this package wrap one of the sentinel errors
// (ErrNotDigest, ErrMalformed, ErrMissingParam, ErrUnsupportedAlgorithm,
// ErrUnsupportedQOP) where one applies, so they can be tested with
// [errors.Is].
package digest

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
)

// Sentinel errors. Errors returned by this package wrap these with details;
// use errors.Is to test for them.
var (
	// ErrNotDigest means the header value uses a scheme other than Digest.
	ErrNotDigest = errors.New("digest: authentication scheme is not Digest")
	// ErrMalformed means the header value (or a value to be serialized)
	// is not syntactically valid.
	ErrMalformed = errors.New("digest: malformed value")
	// ErrMissingParam means a required parameter is absent or empty.
	ErrMissingParam = errors.New("digest: missing required parameter")
	// ErrUnsupportedAlgorithm means the algorithm parameter names an
	// algorithm this package does not implement.
	ErrUnsupportedAlgorithm = errors.New("digest: unsupported algorithm")
	// ErrUnsupportedQOP means a challenge offers qop values, none of which
	// is supported ("auth" or "auth-int").
	ErrUnsupportedQOP = errors.New("digest: no supported qop offered")
)

// qop values.
const (
	qopAuth    = "auth"
	qopAuthInt = "auth-int"
)

// Challenge is a parsed WWW-Authenticate / Proxy-Authenticate value
// (scheme Digest).
type Challenge struct {
	Realm, Nonce, Opaque, Algorithm string   // Algorithm as sent ("" means MD5)
	QOP                             []string // offered qop values, e.g. ["auth","auth-int"]
	Stale                           bool
	Domain                          string
}

// Credentials is a parsed or constructed Authorization /
// Proxy-Authorization value (scheme Digest). All fields hold unquoted
// values; NC is the nonce count as 8 hex digits and is only meaningful when
// QOP is set.
type Credentials struct {
	Username, Realm, Nonce, URI, Response, Algorithm, Opaque, QOP, NC, CNonce string
}

// algorithm describes one digest algorithm.
type algorithm struct {
	newHash func() hash.Hash
	sess    bool
}

// lookupAlgorithm resolves an algorithm name case-insensitively.
// The empty name means MD5.
func lookupAlgorithm(name string) (algorithm, bool) {
	switch strings.ToUpper(name) {
	case "", "MD5":
		return algorithm{md5.New, false}, true
	case "MD5-SESS":
		return algorithm{md5.New, true}, true
	case "SHA-256":
		return algorithm{sha256.New, false}, true
	case "SHA-256-SESS":
		return algorithm{sha256.New, true}, true
	case "SHA-512-256":
		return algorithm{sha512.New512_256, false}, true
	case "SHA-512-256-SESS":
		return algorithm{sha512.New512_256, true}, true
	}
	return algorithm{}, false
}

var colon = []byte{':'}

// hexHash returns the lowercase hex digest of parts joined by ':'.
func (a algorithm) hexHash(parts ...string) string {
	h := a.newHash()
	for i, p := range parts {
		if i > 0 {
			h.Write(colon)
		}
		io.WriteString(h, p)
	}
	var sum [64]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// response computes the request-digest for cr. cr.QOP must be "", "auth"
// or "auth-int" (case-insensitive); it is hashed as written.
func (a algorithm) response(cr *Credentials, method, password string, body []byte) string {
	ha1 := a.hexHash(cr.Username, cr.Realm, password)
	if a.sess {
		ha1 = a.hexHash(ha1, cr.Nonce, cr.CNonce)
	}
	var ha2 string
	if strings.EqualFold(cr.QOP, qopAuthInt) {
		h := a.newHash()
		h.Write(body)
		ha2 = a.hexHash(method, cr.URI, hex.EncodeToString(h.Sum(nil)))
	} else {
		ha2 = a.hexHash(method, cr.URI)
	}
	if cr.QOP == "" {
		return a.hexHash(ha1, cr.Nonce, ha2)
	}
	return a.hexHash(ha1, cr.Nonce, cr.NC, cr.CNonce, cr.QOP, ha2)
}

// chooseQOP picks the qop to answer with: "auth" if offered, else
// "auth-int" if offered, else "" when nothing was offered.
func chooseQOP(offered []string) (string, error) {
	if len(offered) == 0 {
		return "", nil
	}
	authInt := false
	for _, q := range offered {
		if strings.EqualFold(q, qopAuth) {
			return qopAuth, nil
		}
		if strings.EqualFold(q, qopAuthInt) {
			authInt = true
		}
	}
	if authInt {
		return qopAuthInt, nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnsupportedQOP, offered)
}

// formatNC renders a nonce count as 8 lowercase hex digits.
func formatNC(nc uint32) string {
	const digits = "0123456789abcdef"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = digits[nc&0xf]
		nc >>= 4
	}
	return string(b[:])
}

// Respond computes credentials answering ch for a request. method is the
// request method (e.g. "REGISTER"), uri the Request-URI string, and body the
// message body, used only when qop "auth-int" is selected.
//
// qop "auth" is preferred when offered, then "auth-int"; with no qop
// offered the RFC 2069 form is used. nc is the nonce count for ch.Nonce,
// which the caller tracks starting at 1 (it must be at least 1 when a qop
// is used). cnonce is the client nonce; when empty and one is needed, a
// random one is generated with crypto/rand.
func Respond(ch *Challenge, method, uri, username, password string, nc uint32, cnonce string, body []byte) (*Credentials, error) {
	if ch == nil {
		return nil, errors.New("digest: nil challenge")
	}
	if ch.Nonce == "" {
		return nil, fmt.Errorf("%w %q", ErrMissingParam, "nonce")
	}
	alg, ok := lookupAlgorithm(ch.Algorithm)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, ch.Algorithm)
	}
	qop, err := chooseQOP(ch.QOP)
	if err != nil {
		return nil, err
	}
	cr := &Credentials{
		Username:  username,
		Realm:     ch.Realm,
		Nonce:     ch.Nonce,
		URI:       uri,
		Algorithm: ch.Algorithm,
		Opaque:    ch.Opaque,
		QOP:       qop,
	}
	if qop != "" || alg.sess {
		if cnonce == "" {
			cnonce = rand.Text()
		}
		cr.CNonce = cnonce
	}
	if qop != "" {
		if nc == 0 {
			return nil, errors.New("digest: nonce count must be at least 1")
		}
		cr.NC = formatNC(nc)
	}
	for _, f := range [...]struct{ name, value string }{
		{"username", cr.Username}, {"realm", cr.Realm}, {"nonce", cr.Nonce},
		{"uri", cr.URI}, {"opaque", cr.Opaque}, {"cnonce", cr.CNonce},
	} {
		if !quotable(f.value) {
			return nil, fmt.Errorf("%w: %s contains a control character", ErrMalformed, f.name)
		}
	}
	cr.Response = alg.response(cr, method, password, body)
	return cr, nil
}

// Verify reports whether cr carries a correct response for a request with
// the given method and body, made by a user with the given password. The
// response is compared in constant time.
//
// Verify only checks the digest itself. The caller must still check that
// the username is known, that cr.Realm is its realm, that cr.Nonce is a
// nonce it issued and has not expired, that cr.NC has not been used before
// with that nonce (replay), that cr.URI matches the Request-URI, that
// cr.Opaque matches, and that the algorithm and qop are acceptable.
func Verify(cr *Credentials, method, password string, body []byte) bool {
	if cr == nil || cr.Response == "" {
		return false
	}
	alg, ok := lookupAlgorithm(cr.Algorithm)
	if !ok {
		return false
	}
	switch {
	case cr.QOP == "":
	case strings.EqualFold(cr.QOP, qopAuth), strings.EqualFold(cr.QOP, qopAuthInt):
		if cr.NC == "" || cr.CNonce == "" {
			return false
		}
	default:
		return false
	}
	if alg.sess && cr.CNonce == "" {
		return false
	}
	want := alg.response(cr, method, password, body)
	got := strings.ToLower(cr.Response)
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}
