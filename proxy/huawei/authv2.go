package huawei

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sort"
	"strings"
	"time"
)

// authV2TimeFormat is the signature timestamp layout (UTC, milliseconds),
// Java's yyyy-MM-dd'T'HH:mm:ss.SSS'Z'.
const authV2TimeFormat = "2006-01-02T15:04:05.000Z"

// authV2Input is everything the auth-v2 signature covers.
type authV2Input struct {
	Method  string            // HTTP method, upper-cased when signing
	URI     string            // raw request path, "/" when empty
	Query   map[string]string // query parameters, may be nil
	Headers map[string]string // headers to sign, name -> value; must include host
	Body    string            // exact body sent, "" for none
	AK, SK  string
	Time    string // timestamp text, copied into the header as is
}

// authV2Parts are the intermediate strings of one signature, kept apart so
// tests can check them against the seed's vectors.
type authV2Parts struct {
	SignedHeaders    string
	CanonicalHeaders string
	CanonicalRequest string
	Prefix           string
	SigningKey       string
	Signature        string
}

// Authorization is the header value auth-v2/{AK}/{ts}/{SignedHeaders}/{Signature}.
func (p authV2Parts) Authorization() string { return p.Prefix + "/" + p.Signature }

// normalize percent-encodes every byte of s except A-Z a-z 0-9 - . _ ~,
// using upper-case hex (the seed's PathUtils.normalize).
func normalize(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
	return b.String()
}

// hmacHex is the lower-case hex HMAC-SHA256 of msg under key.
func hmacHex(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// signAuthV2 computes the auth-v2 signature (§2.2.1): the query line only
// when there are parameters, header records name:value, normalize (not
// NormalizePath) for names, values and body, and the signing key's hex
// text as the second HMAC key.
func signAuthV2(in authV2Input) (authV2Parts, error) {
	headers := make(map[string]string, len(in.Headers))
	for k, v := range in.Headers {
		if strings.EqualFold(k, "authorization") {
			continue
		}
		headers[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	if _, ok := headers["host"]; !ok {
		return authV2Parts{}, errors.New("huawei: auth-v2 needs the host header signed")
	}
	names := make([]string, 0, len(headers))
	for n := range headers {
		names = append(names, n)
	}
	sort.Strings(names)
	var p authV2Parts
	p.SignedHeaders = strings.Join(names, ";")
	recs := make([]string, 0, len(names))
	for _, n := range names {
		recs = append(recs, normalize(n)+":"+normalize(headers[n]))
	}
	sort.Strings(recs)
	p.CanonicalHeaders = strings.Join(recs, "\n")

	uri := in.URI
	if uri == "" {
		uri = "/"
	}
	var cr strings.Builder
	cr.WriteString(strings.ToUpper(in.Method) + "\n" + uri + "\n")
	if len(in.Query) > 0 {
		qs := make([]string, 0, len(in.Query))
		for k, v := range in.Query {
			qs = append(qs, normalize(k)+"="+normalize(v))
		}
		sort.Strings(qs)
		cr.WriteString(strings.Join(qs, "&") + "\n")
	}
	cr.WriteString(p.SignedHeaders + "\n" + p.CanonicalHeaders + "\n")
	if in.Body != "" {
		cr.WriteString(normalize(in.Body))
	}
	p.CanonicalRequest = cr.String()
	p.Prefix = "auth-v2/" + in.AK + "/" + in.Time + "/" + p.SignedHeaders
	p.SigningKey = hmacHex(in.SK, p.Prefix)
	p.Signature = hmacHex(p.SigningKey, p.CanonicalRequest)
	return p, nil
}

// authV2Time formats t as the signature timestamp.
func authV2Time(t time.Time) string { return t.UTC().Format(authV2TimeFormat) }
