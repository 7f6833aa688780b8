package digest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseChallenge(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Challenge
	}{
		{
			name: "minimal",
			in:   `Digest realm="example.com", nonce="abc"`,
			want: &Challenge{Realm: "example.com", Nonce: "abc"},
		},
		{
			name: "case-insensitive scheme and names",
			in:   `dIGEST REALM="example.com", Nonce="abc", QoP="auth", ALGORITHM=md5-SESS, Stale=TRUE`,
			want: &Challenge{Realm: "example.com", Nonce: "abc", QOP: []string{"auth"}, Algorithm: "md5-SESS", Stale: true},
		},
		{
			name: "whitespace around = and , and empty elements",
			in:   " \tDigest  ,, realm \t= \"r\" ,\t, nonce= \"n\",opaque =\"o\" , ,",
			want: &Challenge{Realm: "r", Nonce: "n", Opaque: "o"},
		},
		{
			name: "line folding",
			in:   "Digest\r\n realm=\"r\"\r\n\t,\r\n nonce=\"n\"",
			want: &Challenge{Realm: "r", Nonce: "n"},
		},
		{
			name: "escapes",
			in:   `Digest realm="a \"quoted\" \\ realm\x", nonce="n\,"`,
			want: &Challenge{Realm: `a "quoted" \ realmx`, Nonce: "n,"},
		},
		{
			name: "tokens for quoted params and quoted tokens",
			in:   `Digest realm=biloxi.com, nonce=abc, qop=auth-int, algorithm="SHA-256", stale="false"`,
			want: &Challenge{Realm: "biloxi.com", Nonce: "abc", QOP: []string{"auth-int"}, Algorithm: "SHA-256"},
		},
		{
			name: "qop list with spaces and empty items",
			in:   `Digest realm="r", nonce="n", qop=" auth ,, auth-int,"`,
			want: &Challenge{Realm: "r", Nonce: "n", QOP: []string{"auth", "auth-int"}},
		},
		{
			name: "empty qop",
			in:   `Digest realm="r", nonce="n", qop=""`,
			want: &Challenge{Realm: "r", Nonce: "n"},
		},
		{
			name: "stale other than true",
			in:   `Digest realm="r", nonce="n", stale=yes`,
			want: &Challenge{Realm: "r", Nonce: "n"},
		},
		{
			name: "domain and unknown params",
			in:   `Digest realm="r", domain="sip:a.example.com sip:b.example.com", nonce="n", charset=UTF-8, userhash=false, x-foo="b,a\"r"`,
			want: &Challenge{Realm: "r", Nonce: "n", Domain: "sip:a.example.com sip:b.example.com"},
		},
		{
			name: "empty realm",
			in:   `Digest realm="", nonce="n"`,
			want: &Challenge{Nonce: "n"},
		},
		{
			name: "utf-8 and obs-text",
			in:   "Digest realm=\"r\xe9alm \u00e9\", nonce=\"n\"",
			want: &Challenge{Realm: "r\xe9alm \u00e9", Nonce: "n"},
		},
		{
			name: "SHA-512-256",
			in:   `Digest realm="r", nonce="n", algorithm=SHA-512-256-sess`,
			want: &Challenge{Realm: "r", Nonce: "n", Algorithm: "SHA-512-256-sess"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChallenge(tt.in)
			if err != nil {
				t.Fatalf("ParseChallenge(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseChallenge(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			checkChallengeRoundTrip(t, got)
		})
	}
}

func TestParseChallengeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		err  error
	}{
		{"empty", "", ErrMalformed},
		{"blank", "  \t ", ErrMalformed},
		{"basic", `Basic realm="r"`, ErrNotDigest},
		{"basic token68", `Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==`, ErrNotDigest},
		{"scheme prefix", `Digestive realm="r", nonce="n"`, ErrNotDigest},
		{"no params", `Digest`, ErrMissingParam},
		{"missing realm", `Digest nonce="n"`, ErrMissingParam},
		{"missing nonce", `Digest realm="r"`, ErrMissingParam},
		{"empty nonce", `Digest realm="r", nonce=""`, ErrMissingParam},
		{"unknown algorithm", `Digest realm="r", nonce="n", algorithm=SHA-1`, ErrUnsupportedAlgorithm},
		{"empty algorithm", `Digest realm="r", nonce="n", algorithm=""`, ErrUnsupportedAlgorithm},
		{"unterminated quote", `Digest realm="r, nonce="n"`, ErrMalformed},
		{"unterminated at end", `Digest realm="r", nonce="n`, ErrMalformed},
		{"dangling escape", `Digest realm="r", nonce="n\`, ErrMalformed},
		{"escaped control", "Digest realm=\"r\\\x01\", nonce=\"n\"", ErrMalformed},
		{"control in quotes", "Digest realm=\"r\x00\", nonce=\"n\"", ErrMalformed},
		{"CRLF in quotes", "Digest realm=\"r\r\n x\", nonce=\"n\"", ErrMalformed},
		{"bare CRLF", "Digest realm=\"r\",\r\nnonce=\"n\"", ErrMalformed},
		{"no whitespace after scheme", `Digest,realm="r", nonce="n"`, ErrMalformed},
		{"missing value", `Digest realm=, nonce="n"`, ErrMalformed},
		{"missing equals", `Digest realm "r", nonce="n"`, ErrMalformed},
		{"missing comma", `Digest realm="r" nonce="n"`, ErrMalformed},
		{"second challenge", `Digest realm="r", nonce="n", Basic realm="r"`, ErrMalformed},
		{"non-token value", `Digest realm=a/b, nonce="n"`, ErrMalformed},
		{"garbage after quote", `Digest realm="r"x, nonce="n"`, ErrMalformed},
		{"duplicate realm", `Digest realm="r", nonce="n", REALM="s"`, ErrMalformed},
		{"bad qop item", `Digest realm="r", nonce="n", qop="auth, auth int"`, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChallenge(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("ParseChallenge(%q) = %+v, %v; want error %v", tt.in, got, err, tt.err)
			}
			if got != nil {
				t.Errorf("non-nil challenge with error")
			}
		})
	}
}

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Credentials
	}{
		{
			name: "RFC 2069 style",
			in:   `Digest username="bob", realm="biloxi.com", nonce="dcd98b", uri="sip:bob@biloxi.com", response="245f2341"`,
			want: &Credentials{Username: "bob", Realm: "biloxi.com", Nonce: "dcd98b", URI: "sip:bob@biloxi.com", Response: "245f2341"},
		},
		{
			name: "quoted tokens accepted",
			in:   `digest USERNAME="bob",realm="r",nonce="n",uri="sip:r",response="x",qop="auth",nc="0000000A",algorithm="MD5",cnonce="c",opaque="o"`,
			want: &Credentials{Username: "bob", Realm: "r", Nonce: "n", URI: "sip:r", Response: "x", QOP: "auth", NC: "0000000A", Algorithm: "MD5", CNonce: "c", Opaque: "o"},
		},
		{
			name: "escapes and unknown params",
			in:   `Digest username="a\\b\"c", realm="r", nonce="n", uri="sip:x;transport=tcp", response="x", userhash=false, auth-param="q"`,
			want: &Credentials{Username: `a\b"c`, Realm: "r", Nonce: "n", URI: "sip:x;transport=tcp", Response: "x"},
		},
		{
			name: "empty realm and response",
			in:   `Digest username="", realm="", nonce="n", uri="", response=""`,
			want: &Credentials{Nonce: "n"},
		},
		{
			name: "sess without qop",
			in:   `Digest username="u", realm="r", nonce="n", uri="sip:r", response="x", algorithm=MD5-sess, cnonce="c"`,
			want: &Credentials{Username: "u", Realm: "r", Nonce: "n", URI: "sip:r", Response: "x", Algorithm: "MD5-sess", CNonce: "c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCredentials(tt.in)
			if err != nil {
				t.Fatalf("ParseCredentials(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseCredentials(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			checkCredentialsRoundTrip(t, got)
		})
	}
}

func TestParseCredentialsErrors(t *testing.T) {
	const base = `Digest username="u", realm="r", nonce="n", uri="sip:r", response="x"`
	tests := []struct {
		name string
		in   string
		err  error
	}{
		{"empty", "", ErrMalformed},
		{"basic", `Basic dXNlcjpwYXNz`, ErrNotDigest},
		{"missing username", `Digest realm="r", nonce="n", uri="sip:r", response="x"`, ErrMissingParam},
		{"missing realm", `Digest username="u", nonce="n", uri="sip:r", response="x"`, ErrMissingParam},
		{"missing nonce", `Digest username="u", realm="r", uri="sip:r", response="x"`, ErrMissingParam},
		{"missing uri", `Digest username="u", realm="r", nonce="n", response="x"`, ErrMissingParam},
		{"missing response", `Digest username="u", realm="r", nonce="n", uri="sip:r"`, ErrMissingParam},
		{"qop without nc", base + `, qop=auth, cnonce="c"`, ErrMissingParam},
		{"qop without cnonce", base + `, qop=auth, nc=00000001`, ErrMissingParam},
		{"short nc", base + `, qop=auth, nc=1, cnonce="c"`, ErrMalformed},
		{"non-hex nc", base + `, qop=auth, nc=0000000g, cnonce="c"`, ErrMalformed},
		{"bad qop", base + `, qop="auth auth", nc=00000001, cnonce="c"`, ErrMalformed},
		{"unknown algorithm", base + `, algorithm=SHA-1`, ErrUnsupportedAlgorithm},
		{"duplicate response", base + `, response="y"`, ErrMalformed},
		{"unterminated", `Digest username="u, realm="r"`, ErrMalformed},
		{"unquoted uri", `Digest username="u", realm="r", nonce="n", uri=sip:r, response="x"`, ErrMalformed},
		{"trailing junk", base + ` junk`, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCredentials(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("ParseCredentials(%q) = %+v, %v; want error %v", tt.in, got, err, tt.err)
			}
		})
	}
}

func TestChallengeRoundTrip(t *testing.T) {
	tests := []*Challenge{
		{Realm: "r", Nonce: "n"},
		{Realm: `we"ird\realm, with=stuff`, Nonce: "n=,;", Opaque: `"`, Algorithm: "SHA-256-sess", QOP: []string{"auth", "auth-int"}, Stale: true, Domain: "/ sip:x"},
		{Realm: "", Nonce: "n", QOP: []string{"auth-int"}, Algorithm: "sha-512-256"},
	}
	for _, c := range tests {
		checkChallengeRoundTrip(t, c)
	}
	want := `Digest realm="r\"", domain="/d", nonce="n", opaque="o", stale=true, algorithm=MD5, qop="auth,auth-int"`
	c := &Challenge{Realm: `r"`, Domain: "/d", Nonce: "n", Opaque: "o", Stale: true, Algorithm: "MD5", QOP: []string{"auth", "auth-int"}}
	if got := c.String(); got != want {
		t.Errorf("String = %s, want %s", got, want)
	}
}

func TestCredentialsRoundTrip(t *testing.T) {
	tests := []*Credentials{
		{Username: "u", Realm: "r", Nonce: "n", URI: "sip:r", Response: "x"},
		{Username: `"Mufasa\"`, Realm: "r, s", Nonce: "n", URI: "sip:bob@biloxi.com;transport=tcp?x=y", Response: "00ff", Algorithm: "SHA-256", Opaque: `o\`, QOP: "auth-int", NC: "000000ff", CNonce: "c\"n"},
	}
	for _, c := range tests {
		checkCredentialsRoundTrip(t, c)
	}
}

func checkChallengeRoundTrip(t *testing.T, c *Challenge) {
	t.Helper()
	s := c.String()
	back, err := ParseChallenge(s)
	if err != nil {
		t.Fatalf("ParseChallenge(String()) of %+v: %q: %v", c, s, err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip of %+v via %q gave %+v", c, s, back)
	}
	if s2 := back.String(); s2 != s {
		t.Fatalf("String not stable: %q then %q", s, s2)
	}
}

func checkCredentialsRoundTrip(t *testing.T, c *Credentials) {
	t.Helper()
	s := c.String()
	back, err := ParseCredentials(s)
	if err != nil {
		t.Fatalf("ParseCredentials(String()) of %+v: %q: %v", c, s, err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip of %+v via %q gave %+v", c, s, back)
	}
	if s2 := back.String(); s2 != s {
		t.Fatalf("String not stable: %q then %q", s, s2)
	}
}

func TestNilString(t *testing.T) {
	var c *Challenge
	var cr *Credentials
	if c.String() != "" || cr.String() != "" {
		t.Error("nil String not empty")
	}
}

func FuzzParseChallenge(f *testing.F) {
	for _, s := range []string{
		rfc2617Challenge,
		`Digest realm="r", nonce="n"`,
		`Digest realm="a\"b", nonce=abc, qop="auth,auth-int", algorithm=SHA-256-sess, stale=TRUE, opaque="", domain="sip:x"`,
		`digest ,, realm = "r" , nonce="n",`,
		`Digest realm="r, nonce="n"`,
		`Basic realm="r"`,
		"Digest\r\n realm=\"r\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseChallenge(s)
		if err != nil {
			if c != nil {
				t.Fatalf("non-nil challenge with error %v", err)
			}
			return
		}
		checkChallengeRoundTrip(t, c)
	})
}

func FuzzParseCredentials(f *testing.F) {
	for _, s := range []string{
		`Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
		`Digest username="u", realm="r", nonce="n", uri="sip:r", response="x"`,
		`Digest username="a\\b", realm="", nonce=n, uri="", response="", algorithm="md5-sess", cnonce="c"`,
		`Digest username="u", realm="r`,
		strings.Repeat(",", 10),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCredentials(s)
		if err != nil {
			if c != nil {
				t.Fatalf("non-nil credentials with error %v", err)
			}
			return
		}
		checkCredentialsRoundTrip(t, c)
		Verify(c, "REGISTER", "password", []byte(s)) // must not panic
	})
}
