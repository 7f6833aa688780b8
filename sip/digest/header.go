package digest

import (
	"fmt"
	"strings"
)

// isTokenChar reports whether c is a tchar (RFC 7230 §3.2.6), a superset of
// the SIP token characters of RFC 3261 §25.1.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// isCTL reports whether c may not appear in a quoted-string, even escaped
// (control characters other than HTAB, and DEL).
func isCTL(c byte) bool {
	return (c < 0x20 && c != '\t') || c == 0x7f
}

// quotable reports whether s can be written as a quoted-string.
func quotable(s string) bool {
	for i := 0; i < len(s); i++ {
		if isCTL(s[i]) {
			return false
		}
	}
	return true
}

// lexer scans an auth header value.
type lexer struct {
	s string
	i int
}

// skipWS skips SP, HTAB and SIP line folds (CRLF followed by SP or HTAB).
func (l *lexer) skipWS() {
	for l.i < len(l.s) {
		switch c := l.s[l.i]; {
		case c == ' ' || c == '\t':
			l.i++
		case c == '\r' && l.i+2 < len(l.s) && l.s[l.i+1] == '\n' &&
			(l.s[l.i+2] == ' ' || l.s[l.i+2] == '\t'):
			l.i += 3
		default:
			return
		}
	}
}

func (l *lexer) done() bool { return l.i >= len(l.s) }

func (l *lexer) token() string {
	start := l.i
	for l.i < len(l.s) && isTokenChar(l.s[l.i]) {
		l.i++
	}
	return l.s[start:l.i]
}

// quoted scans a quoted-string starting at the opening quote and returns
// its unescaped content.
func (l *lexer) quoted() (string, error) {
	start := l.i
	l.i++ // opening quote
	var b strings.Builder
	escaped := false // whether b is in use
	from := l.i
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch {
		case c == '"':
			l.i++
			if !escaped {
				return l.s[from : l.i-1], nil
			}
			b.WriteString(l.s[from : l.i-1])
			return b.String(), nil
		case c == '\\':
			if l.i+1 >= len(l.s) || isCTL(l.s[l.i+1]) {
				return "", fmt.Errorf("%w: invalid escape in quoted string at offset %d", ErrMalformed, l.i)
			}
			escaped = true
			b.WriteString(l.s[from:l.i])
			b.WriteByte(l.s[l.i+1])
			l.i += 2
			from = l.i
		case isCTL(c):
			return "", fmt.Errorf("%w: control character in quoted string at offset %d", ErrMalformed, l.i)
		default:
			l.i++
		}
	}
	return "", fmt.Errorf("%w: unterminated quoted string at offset %d", ErrMalformed, start)
}

// parseParams parses `Digest name=value, ...` and calls set for each
// parameter with its lowercased name and unquoted value.
func parseParams(s string, set func(name, value string) error) error {
	l := lexer{s: s}
	l.skipWS()
	scheme := l.token()
	if scheme == "" {
		return fmt.Errorf("%w: missing authentication scheme", ErrMalformed)
	}
	if !strings.EqualFold(scheme, "Digest") {
		return fmt.Errorf("%w (scheme %q)", ErrNotDigest, scheme)
	}
	if !l.done() {
		start := l.i
		l.skipWS()
		if l.i == start {
			return fmt.Errorf("%w: no whitespace after scheme", ErrMalformed)
		}
	}
	for {
		l.skipWS()
		if l.done() {
			return nil
		}
		if l.s[l.i] == ',' {
			l.i++
			continue
		}
		name := l.token()
		if name == "" {
			return fmt.Errorf("%w: unexpected %q at offset %d", ErrMalformed, l.s[l.i], l.i)
		}
		l.skipWS()
		if l.done() || l.s[l.i] != '=' {
			return fmt.Errorf("%w: parameter %q has no value", ErrMalformed, name)
		}
		l.i++
		l.skipWS()
		var value string
		if !l.done() && l.s[l.i] == '"' {
			var err error
			if value, err = l.quoted(); err != nil {
				return err
			}
		} else if value = l.token(); value == "" {
			return fmt.Errorf("%w: parameter %q has an empty or invalid value", ErrMalformed, name)
		}
		if err := set(strings.ToLower(name), value); err != nil {
			return err
		}
		l.skipWS()
		if l.done() {
			return nil
		}
		if l.s[l.i] != ',' {
			return fmt.Errorf("%w: expected ',' after parameter %q, got %q", ErrMalformed, name, l.s[l.i])
		}
		l.i++
	}
}

// seenSet detects repeated known parameters.
type seenSet uint32

func (s *seenSet) add(bit uint, name string) error {
	if *s&(1<<bit) != 0 {
		return fmt.Errorf("%w: repeated parameter %q", ErrMalformed, name)
	}
	*s |= 1 << bit
	return nil
}

func checkAlgorithm(v string) error {
	if _, ok := lookupAlgorithm(v); !ok || v == "" {
		return fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, v)
	}
	return nil
}

// ParseChallenge parses a WWW-Authenticate or Proxy-Authenticate header
// value holding a single Digest challenge. It fails with ErrNotDigest for
// other schemes, ErrMissingParam when realm or nonce is absent (or nonce is
// empty), ErrUnsupportedAlgorithm for unknown algorithms and ErrMalformed
// for syntax errors.
func ParseChallenge(headerValue string) (*Challenge, error) {
	c := new(Challenge)
	var seen seenSet
	err := parseParams(headerValue, func(name, value string) error {
		var bit uint
		var dst *string
		switch name {
		case "realm":
			bit, dst = 0, &c.Realm
		case "nonce":
			bit, dst = 1, &c.Nonce
		case "opaque":
			bit, dst = 2, &c.Opaque
		case "domain":
			bit, dst = 3, &c.Domain
		case "algorithm":
			bit, dst = 4, &c.Algorithm
			if err := checkAlgorithm(value); err != nil {
				return err
			}
		case "qop":
			bit = 5
		case "stale":
			bit = 6
		default:
			return nil // unknown parameters are ignored
		}
		if err := seen.add(bit, name); err != nil {
			return err
		}
		switch name {
		case "qop":
			for part := range strings.SplitSeq(value, ",") {
				part = strings.Trim(part, " \t")
				if part == "" {
					continue
				}
				if !isToken(part) {
					return fmt.Errorf("%w: invalid qop value %q", ErrMalformed, part)
				}
				c.QOP = append(c.QOP, part)
			}
		case "stale":
			c.Stale = strings.EqualFold(value, "true")
		default:
			*dst = value
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if seen&(1<<0) == 0 {
		return nil, fmt.Errorf("%w %q", ErrMissingParam, "realm")
	}
	if c.Nonce == "" {
		return nil, fmt.Errorf("%w %q", ErrMissingParam, "nonce")
	}
	return c, nil
}

// ParseCredentials parses an Authorization or Proxy-Authorization header
// value with scheme Digest. username, realm, nonce, uri and response are
// required; when qop is present, nc and cnonce are required too. nc must be
// 8 hex digits and qop a token. Errors wrap the same sentinels as
// [ParseChallenge].
func ParseCredentials(headerValue string) (*Credentials, error) {
	c := new(Credentials)
	var seen seenSet
	err := parseParams(headerValue, func(name, value string) error {
		var bit uint
		var dst *string
		switch name {
		case "username":
			bit, dst = 0, &c.Username
		case "realm":
			bit, dst = 1, &c.Realm
		case "nonce":
			bit, dst = 2, &c.Nonce
		case "uri":
			bit, dst = 3, &c.URI
		case "response":
			bit, dst = 4, &c.Response
		case "algorithm":
			bit, dst = 5, &c.Algorithm
			if err := checkAlgorithm(value); err != nil {
				return err
			}
		case "opaque":
			bit, dst = 6, &c.Opaque
		case "qop":
			bit, dst = 7, &c.QOP
			if value != "" && !isToken(value) {
				return fmt.Errorf("%w: invalid qop value %q", ErrMalformed, value)
			}
		case "nc":
			bit, dst = 8, &c.NC
			if value != "" && !isNC(value) {
				return fmt.Errorf("%w: nc must be 8 hex digits, got %q", ErrMalformed, value)
			}
		case "cnonce":
			bit, dst = 9, &c.CNonce
		default:
			return nil // unknown parameters are ignored
		}
		if err := seen.add(bit, name); err != nil {
			return err
		}
		*dst = value
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, name := range [...]string{"username", "realm", "nonce", "uri", "response"} {
		if seen&(1<<uint(i)) == 0 {
			return nil, fmt.Errorf("%w %q", ErrMissingParam, name)
		}
	}
	if c.QOP != "" {
		if c.NC == "" {
			return nil, fmt.Errorf("%w %q", ErrMissingParam, "nc")
		}
		if c.CNonce == "" {
			return nil, fmt.Errorf("%w %q", ErrMissingParam, "cnonce")
		}
	}
	return c, nil
}

func isNC(s string) bool {
	if len(s) != 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// paramWriter serializes a comma-separated auth-param list.
type paramWriter struct {
	b strings.Builder
	n int
}

func (w *paramWriter) sep(name string) {
	if w.n > 0 {
		w.b.WriteString(", ")
	}
	w.n++
	w.b.WriteString(name)
	w.b.WriteByte('=')
}

// quoted writes name="value", escaping '"' and '\'.
func (w *paramWriter) quoted(name, value string) {
	w.sep(name)
	w.b.WriteByte('"')
	for i := 0; i < len(value); i++ {
		if c := value[i]; c == '"' || c == '\\' {
			w.b.WriteByte('\\')
		}
		w.b.WriteByte(value[i])
	}
	w.b.WriteByte('"')
}

// token writes name=value unquoted.
func (w *paramWriter) token(name, value string) {
	w.sep(name)
	w.b.WriteString(value)
}

// String serializes c as a WWW-Authenticate / Proxy-Authenticate value.
// realm and nonce are always written; other parameters only when set.
// Values containing control characters cannot be represented and yield a
// value that does not parse.
func (c *Challenge) String() string {
	if c == nil {
		return ""
	}
	var w paramWriter
	w.b.WriteString("Digest ")
	w.quoted("realm", c.Realm)
	if c.Domain != "" {
		w.quoted("domain", c.Domain)
	}
	w.quoted("nonce", c.Nonce)
	if c.Opaque != "" {
		w.quoted("opaque", c.Opaque)
	}
	if c.Stale {
		w.token("stale", "true")
	}
	if c.Algorithm != "" {
		w.token("algorithm", c.Algorithm)
	}
	if len(c.QOP) > 0 {
		w.quoted("qop", strings.Join(c.QOP, ","))
	}
	return w.b.String()
}

// String serializes c as an Authorization / Proxy-Authorization value.
// username, realm, nonce, uri and response are always written (quoted);
// algorithm, qop and nc are written as tokens and the others quoted, each
// only when set.
func (c *Credentials) String() string {
	if c == nil {
		return ""
	}
	var w paramWriter
	w.b.WriteString("Digest ")
	w.quoted("username", c.Username)
	w.quoted("realm", c.Realm)
	w.quoted("nonce", c.Nonce)
	w.quoted("uri", c.URI)
	w.quoted("response", c.Response)
	if c.Algorithm != "" {
		w.token("algorithm", c.Algorithm)
	}
	if c.CNonce != "" {
		w.quoted("cnonce", c.CNonce)
	}
	if c.Opaque != "" {
		w.quoted("opaque", c.Opaque)
	}
	if c.QOP != "" {
		w.token("qop", c.QOP)
	}
	if c.NC != "" {
		w.token("nc", c.NC)
	}
	return w.b.String()
}
