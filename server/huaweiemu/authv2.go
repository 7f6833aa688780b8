package huaweiemu

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// C2 auth-v2 signing (engineering spec §2.2.1): the canonical request is
// signed with HMAC-SHA256 keyed by the hex text of the signing key, which
// is itself HMAC-SHA256(SK, "auth-v2/{AK}/{timestamp}/{signedHeaders}").

// normalize percent-encodes every byte but A-Z a-z 0-9 - . _ ~, with
// upper-case hex digits (PathUtils.normalize).
func normalize(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// hmacHex is the lower-case hex HMAC-SHA256 of msg under key.
func hmacHex(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// signedHeaderNames is the SignedHeaders field: lower-cased names,
// sorted, joined with ";".
func signedHeaderNames(headers map[string]string) string {
	names := make([]string, 0, len(headers))
	for n := range headers {
		names = append(names, strings.ToLower(n))
	}
	slices.Sort(names)
	return strings.Join(names, ";")
}

// canonicalHeaders is the CanonicalHeaders field: sorted records
// normalize(lower(name)) ":" normalize(trim(value)), joined with "\n".
func canonicalHeaders(headers map[string]string) string {
	recs := make([]string, 0, len(headers))
	for n, v := range headers {
		recs = append(recs, normalize(strings.ToLower(n))+":"+normalize(strings.TrimSpace(v)))
	}
	slices.Sort(recs)
	return strings.Join(recs, "\n")
}

// canonicalQuery is the CanonicalQueryString: sorted key=value records
// joined with "&"; "" without parameters.
func canonicalQuery(query map[string][]string) string {
	var recs []string
	for k, vs := range query {
		if len(vs) == 0 {
			recs = append(recs, normalize(k)+"=")
		}
		for _, v := range vs {
			recs = append(recs, normalize(k)+"="+normalize(v))
		}
	}
	slices.Sort(recs)
	return strings.Join(recs, "&")
}

// canonicalRequest builds the string that is signed. The query line is
// present only with parameters and the body only when non-empty (spec
// §2.2.2 A1).
func canonicalRequest(method, uri string, query map[string][]string, headers map[string]string, body string) string {
	if uri == "" {
		uri = "/"
	}
	var b strings.Builder
	b.WriteString(strings.ToUpper(method) + "\n" + uri + "\n")
	if q := canonicalQuery(query); q != "" {
		b.WriteString(q + "\n")
	}
	b.WriteString(signedHeaderNames(headers) + "\n" + canonicalHeaders(headers) + "\n")
	if body != "" {
		b.WriteString(normalize(body))
	}
	return b.String()
}

// signingKey is the hex signing key for an auth string prefix.
func signingKey(sk, prefix string) string { return hmacHex(sk, prefix) }

// authV2 is the Authorization value for a request.
func authV2(method, uri string, query map[string][]string, headers map[string]string, body, ak, sk, ts string) string {
	prefix := "auth-v2/" + ak + "/" + ts + "/" + signedHeaderNames(headers)
	return prefix + "/" + hmacHex(signingKey(sk, prefix), canonicalRequest(method, uri, query, headers, body))
}

// verifyAuthV2 checks the auth-v2 Authorization header of r, whose body
// was read into body, against the secrets in aksk at time now. It returns
// why a request is refused (for the log only) and whether it is accepted.
func verifyAuthV2(r *http.Request, body []byte, aksk map[string]string, now time.Time, skew time.Duration) (string, bool) {
	parts := strings.SplitN(r.Header.Get("Authorization"), "/", 5)
	if len(parts) != 5 || parts[0] != "auth-v2" {
		return "malformed header", false
	}
	ak, ts, names, sig := parts[1], parts[2], parts[3], parts[4]
	sk, known := aksk[ak]
	if !known || ak == "" {
		return "unknown app key", false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return "malformed timestamp", false
	}
	if d := now.Sub(t); d > skew || d < -skew {
		return "stale timestamp", false
	}
	headers := map[string]string{}
	for _, n := range strings.Split(names, ";") {
		if n == "" || n != strings.ToLower(n) || n == "authorization" {
			return "bad signed header list", false
		}
		switch n {
		case "host":
			headers[n] = r.Host
		case "content-length":
			headers[n] = strconv.FormatInt(r.ContentLength, 10)
		default:
			headers[n] = r.Header.Get(n)
		}
	}
	if _, has := headers["host"]; !has || signedHeaderNames(headers) != names {
		return "host not signed or header list not sorted", false
	}
	want := authV2(r.Method, r.URL.EscapedPath(), r.URL.Query(), headers, string(body), ak, sk, ts)
	if !hmac.Equal([]byte(want[strings.LastIndexByte(want, '/')+1:]), []byte(sig)) {
		return "signature mismatch", false
	}
	return "", true
}
