package digest

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"reflect"
	"strings"
	"testing"
)

// RFC 2617 §3.5, with the header folded over several lines as in the RFC.
const rfc2617Challenge = "Digest\r\n" +
	"                 realm=\"testrealm@host.com\",\r\n" +
	"                 qop=\"auth,auth-int\",\r\n" +
	"                 nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n" +
	"                 opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""

func TestRFC2617Example(t *testing.T) {
	ch, err := ParseChallenge(rfc2617Challenge)
	if err != nil {
		t.Fatalf("ParseChallenge: %v", err)
	}
	wantCh := &Challenge{
		Realm:  "testrealm@host.com",
		Nonce:  "dcd98b7102dd2f0e8b11d0f600bfb0c093",
		Opaque: "5ccc069c403ebaf9f0171e9517f40e41",
		QOP:    []string{"auth", "auth-int"},
	}
	if !reflect.DeepEqual(ch, wantCh) {
		t.Fatalf("ParseChallenge = %+v, want %+v", ch, wantCh)
	}
	cr, err := Respond(ch, "GET", "/dir/index.html", "Mufasa", "Circle Of Life", 1, "0a4f113b", nil)
	if err != nil {
		t.Fatalf("Respond: %v", err)
	}
	const want = "6629fae49393a05397450978507c4ef1"
	if cr.Response != want {
		t.Errorf("Response = %s, want %s", cr.Response, want)
	}
	if cr.QOP != "auth" || cr.NC != "00000001" || cr.CNonce != "0a4f113b" || cr.Opaque != wantCh.Opaque {
		t.Errorf("unexpected credentials %+v", cr)
	}

	// Server side: the Authorization header from the RFC.
	got, err := ParseCredentials("Digest username=\"Mufasa\",\r\n" +
		"                 realm=\"testrealm@host.com\",\r\n" +
		"                 nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n" +
		"                 uri=\"/dir/index.html\",\r\n" +
		"                 qop=auth,\r\n" +
		"                 nc=00000001,\r\n" +
		"                 cnonce=\"0a4f113b\",\r\n" +
		"                 response=\"6629fae49393a05397450978507c4ef1\",\r\n" +
		"                 opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"")
	if err != nil {
		t.Fatalf("ParseCredentials: %v", err)
	}
	if !reflect.DeepEqual(got, cr) {
		t.Errorf("ParseCredentials = %+v, want %+v", got, cr)
	}
	if s := cr.String(); s != `Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", response="6629fae49393a05397450978507c4ef1", cnonce="0a4f113b", opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=00000001` {
		t.Errorf("String = %s", s)
	}
	if !Verify(got, "GET", "Circle Of Life", nil) {
		t.Error("Verify rejected the RFC 2617 credentials")
	}
	if Verify(got, "GET", "circle of life", nil) {
		t.Error("Verify accepted a wrong password")
	}
	if Verify(got, "POST", "Circle Of Life", nil) {
		t.Error("Verify accepted a wrong method")
	}
}

func TestRFC7616Examples(t *testing.T) {
	const (
		nonce  = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
		opaque = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
		cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
	)
	tests := []struct {
		algorithm string
		response  string
	}{
		{"SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
		{"MD5", "8ca523f5e9506fed4657c9700eebdbec"},
	}
	for _, tt := range tests {
		t.Run(tt.algorithm, func(t *testing.T) {
			header := "Digest\r\n" +
				"    realm=\"http-auth@example.org\",\r\n" +
				"    qop=\"auth, auth-int\",\r\n" +
				"    algorithm=" + tt.algorithm + ",\r\n" +
				"    nonce=\"" + nonce + "\",\r\n" +
				"    opaque=\"" + opaque + "\""
			ch, err := ParseChallenge(header)
			if err != nil {
				t.Fatalf("ParseChallenge: %v", err)
			}
			if ch.Algorithm != tt.algorithm || !reflect.DeepEqual(ch.QOP, []string{"auth", "auth-int"}) {
				t.Fatalf("ParseChallenge = %+v", ch)
			}
			cr, err := Respond(ch, "GET", "/dir/index.html", "Mufasa", "Circle of Life", 1, cnonce, nil)
			if err != nil {
				t.Fatalf("Respond: %v", err)
			}
			if cr.Response != tt.response {
				t.Errorf("Response = %s, want %s", cr.Response, tt.response)
			}
			auth := `Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", ` +
				`algorithm=` + tt.algorithm + `, nonce="` + nonce + `", nc=00000001, cnonce="` + cnonce + `", ` +
				`qop=auth, response="` + tt.response + `", opaque="` + opaque + `"`
			parsed, err := ParseCredentials(auth)
			if err != nil {
				t.Fatalf("ParseCredentials: %v", err)
			}
			if !reflect.DeepEqual(parsed, cr) {
				t.Errorf("ParseCredentials = %+v, want %+v", parsed, cr)
			}
			if !Verify(parsed, "GET", "Circle of Life", nil) {
				t.Error("Verify rejected the RFC 7616 credentials")
			}
		})
	}
}

// hasher returns the hash constructor for an algorithm name, independently
// of the package's table.
func hasher(alg string) func() hash.Hash {
	switch strings.TrimSuffix(strings.ToUpper(alg), "-SESS") {
	case "", "MD5":
		return md5.New
	case "SHA-256":
		return sha256.New
	case "SHA-512-256":
		return sha512.New512_256
	}
	panic("unknown algorithm " + alg)
}

// reference computes a response from the RFC formulas, spelled out.
func reference(alg, qop, method, uri, user, realm, pass, nonce, nc, cnonce string, body []byte) string {
	newHash := hasher(alg)
	h := func(s string) string {
		x := newHash()
		x.Write([]byte(s))
		return hex.EncodeToString(x.Sum(nil))
	}
	ha1 := h(user + ":" + realm + ":" + pass)
	if strings.HasSuffix(strings.ToLower(alg), "-sess") {
		ha1 = h(ha1 + ":" + nonce + ":" + cnonce)
	}
	a2 := method + ":" + uri
	if qop == "auth-int" {
		a2 += ":" + h(string(body))
	}
	if qop == "" {
		return h(ha1 + ":" + nonce + ":" + h(a2))
	}
	return h(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + h(a2))
}

func TestRespondAlgorithms(t *testing.T) {
	algs := []string{"", "MD5", "md5", "MD5-sess", "SHA-256", "SHA-256-sess", "sha-256-SESS", "SHA-512-256", "SHA-512-256-sess"}
	qops := [][]string{nil, {"auth"}, {"auth-int"}}
	body := []byte("v=0\r\no=alice 1 1 IN IP4 192.0.2.1\r\n")
	for _, alg := range algs {
		for _, offered := range qops {
			name := fmt.Sprintf("%s/%v", alg, offered)
			t.Run(name, func(t *testing.T) {
				ch := &Challenge{Realm: "atlanta.example.com", Nonce: "ea9c8e88df84f1cec4341ae6cbe5a359", Algorithm: alg, QOP: offered}
				const uri = "sip:bob@biloxi.example.com"
				cr, err := Respond(ch, "INVITE", uri, "alice", "secret", 0x1a, "c0ffee", body)
				if err != nil {
					t.Fatalf("Respond: %v", err)
				}
				qop := ""
				if len(offered) > 0 {
					qop = offered[0]
				}
				if cr.QOP != qop {
					t.Errorf("QOP = %q, want %q", cr.QOP, qop)
				}
				wantNC := ""
				if qop != "" {
					wantNC = "0000001a"
				}
				if cr.NC != wantNC {
					t.Errorf("NC = %q, want %q", cr.NC, wantNC)
				}
				sess := strings.HasSuffix(strings.ToLower(alg), "-sess")
				if (cr.CNonce != "") != (qop != "" || sess) {
					t.Errorf("CNonce = %q with qop %q, sess %v", cr.CNonce, qop, sess)
				}
				want := reference(alg, qop, "INVITE", uri, "alice", ch.Realm, "secret", ch.Nonce, cr.NC, cr.CNonce, body)
				if cr.Response != want {
					t.Errorf("Response = %s, want %s", cr.Response, want)
				}
				if cr.Algorithm != alg {
					t.Errorf("Algorithm = %q, want %q", cr.Algorithm, alg)
				}
				parsed, err := ParseCredentials(cr.String())
				if err != nil {
					t.Fatalf("ParseCredentials(%q): %v", cr.String(), err)
				}
				if !Verify(parsed, "INVITE", "secret", body) {
					t.Error("Verify rejected valid credentials")
				}
				if Verify(parsed, "INVITE", "wrong", body) {
					t.Error("Verify accepted a wrong password")
				}
				tampered := append([]byte(nil), body...)
				tampered[0] = 'w'
				if got := Verify(parsed, "INVITE", "secret", tampered); got != (qop != "auth-int") {
					t.Errorf("Verify with a different body = %v", got)
				}
			})
		}
	}
}

func TestRespondQOPSelection(t *testing.T) {
	tests := []struct {
		offered []string
		want    string
		err     error
	}{
		{nil, "", nil},
		{[]string{"auth"}, "auth", nil},
		{[]string{"auth-int"}, "auth-int", nil},
		{[]string{"auth-int", "auth"}, "auth", nil},
		{[]string{"AUTH-INT", "Auth"}, "auth", nil},
		{[]string{"x-future", "auth-int"}, "auth-int", nil},
		{[]string{"x-future"}, "", ErrUnsupportedQOP},
	}
	for _, tt := range tests {
		ch := &Challenge{Realm: "r", Nonce: "n", QOP: tt.offered}
		cr, err := Respond(ch, "REGISTER", "sip:example.com", "u", "p", 1, "c", nil)
		if !errors.Is(err, tt.err) {
			t.Errorf("%v: error %v, want %v", tt.offered, err, tt.err)
			continue
		}
		if err == nil && cr.QOP != tt.want {
			t.Errorf("%v: QOP = %q, want %q", tt.offered, cr.QOP, tt.want)
		}
	}
}

func TestRespondErrors(t *testing.T) {
	tests := []struct {
		name string
		ch   *Challenge
		user string
		nc   uint32
		err  error
	}{
		{"nil challenge", nil, "u", 1, nil},
		{"no nonce", &Challenge{Realm: "r"}, "u", 1, ErrMissingParam},
		{"unknown algorithm", &Challenge{Realm: "r", Nonce: "n", Algorithm: "SHA-1"}, "u", 1, ErrUnsupportedAlgorithm},
		{"unsupported qop", &Challenge{Realm: "r", Nonce: "n", QOP: []string{"auth-conf"}}, "u", 1, ErrUnsupportedQOP},
		{"nc zero", &Challenge{Realm: "r", Nonce: "n", QOP: []string{"auth"}}, "u", 0, nil},
		{"control char", &Challenge{Realm: "r", Nonce: "n"}, "u\r\nX: y", 1, ErrMalformed},
	}
	for _, tt := range tests {
		cr, err := Respond(tt.ch, "REGISTER", "sip:example.com", tt.user, "p", tt.nc, "c", nil)
		if err == nil {
			t.Errorf("%s: Respond = %+v, want error", tt.name, cr)
			continue
		}
		if tt.err != nil && !errors.Is(err, tt.err) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.err)
		}
	}
	// nc is ignored without qop.
	if _, err := Respond(&Challenge{Realm: "r", Nonce: "n"}, "REGISTER", "sip:example.com", "u", "p", 0, "", nil); err != nil {
		t.Errorf("Respond without qop and nc 0: %v", err)
	}
}

func TestRespondGeneratesCNonce(t *testing.T) {
	ch := &Challenge{Realm: "r", Nonce: "n", QOP: []string{"auth"}}
	a, err := Respond(ch, "REGISTER", "sip:example.com", "u", "p", 1, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Respond(ch, "REGISTER", "sip:example.com", "u", "p", 1, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.CNonce) < 16 || a.CNonce == b.CNonce {
		t.Errorf("generated cnonces %q and %q", a.CNonce, b.CNonce)
	}
	if !Verify(a, "REGISTER", "p", nil) {
		t.Error("Verify rejected credentials with a generated cnonce")
	}
}

func TestVerifyRejects(t *testing.T) {
	ch := &Challenge{Realm: "r", Nonce: "n", QOP: []string{"auth"}, Algorithm: "MD5-sess"}
	good, err := Respond(ch, "REGISTER", "sip:example.com", "u", "p", 1, "abc", nil)
	if err != nil {
		t.Fatal(err)
	}
	upper := *good
	upper.Response = strings.ToUpper(upper.Response)
	if !Verify(&upper, "REGISTER", "p", nil) {
		t.Error("Verify rejected an upper-case response")
	}
	tests := []struct {
		name   string
		modify func(c *Credentials)
	}{
		{"uri", func(c *Credentials) { c.URI = "sip:other.example.com" }},
		{"username", func(c *Credentials) { c.Username = "v" }},
		{"realm", func(c *Credentials) { c.Realm = "s" }},
		{"nonce", func(c *Credentials) { c.Nonce = "m" }},
		{"nc", func(c *Credentials) { c.NC = "00000002" }},
		{"cnonce", func(c *Credentials) { c.CNonce = "abd" }},
		{"no cnonce", func(c *Credentials) { c.CNonce = "" }},
		{"no nc", func(c *Credentials) { c.NC = "" }},
		{"qop auth-int", func(c *Credentials) { c.QOP = "auth-int" }},
		{"unknown qop", func(c *Credentials) { c.QOP = "auth-conf" }},
		{"unknown algorithm", func(c *Credentials) { c.Algorithm = "SHA-1" }},
		{"other algorithm", func(c *Credentials) { c.Algorithm = "MD5" }},
		{"empty response", func(c *Credentials) { c.Response = "" }},
		{"short response", func(c *Credentials) { c.Response = c.Response[:31] }},
	}
	for _, tt := range tests {
		c := *good
		tt.modify(&c)
		if Verify(&c, "REGISTER", "p", nil) {
			t.Errorf("%s: Verify accepted modified credentials", tt.name)
		}
	}
	if Verify(nil, "REGISTER", "p", nil) {
		t.Error("Verify(nil) = true")
	}
}

func BenchmarkRespondMD5(b *testing.B) {
	ch := &Challenge{Realm: "atlanta.example.com", Nonce: "ea9c8e88df84f1cec4341ae6cbe5a359", QOP: []string{"auth"}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := Respond(ch, "REGISTER", "sip:atlanta.example.com", "alice", "secret", uint32(i+1), "0a4f113b", nil); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleRespond() {
	ch, err := ParseChallenge(`Digest realm="atlanta.example.com", qop="auth", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", opaque=""`)
	if err != nil {
		panic(err)
	}
	cr, err := Respond(ch, "REGISTER", "sip:atlanta.example.com", "alice", "secret", 1, "0a4f113b", nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(cr)
	// Output:
	// Digest username="alice", realm="atlanta.example.com", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", uri="sip:atlanta.example.com", response="f99ae030960d20f00f88e2606d261afc", cnonce="0a4f113b", qop=auth, nc=00000001
}

func ExampleVerify() {
	// Server side: send a challenge, then check the answer.
	ch := &Challenge{Realm: "atlanta.example.com", Nonce: "ea9c8e88df84f1cec4341ae6cbe5a359", QOP: []string{"auth"}}
	fmt.Println("WWW-Authenticate:", ch)

	header := `Digest username="alice", realm="atlanta.example.com", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", uri="sip:atlanta.example.com", response="f99ae030960d20f00f88e2606d261afc", cnonce="0a4f113b", qop=auth, nc=00000001`
	cr, err := ParseCredentials(header)
	if err != nil {
		panic(err)
	}
	// A real server also checks cr.Realm, cr.Nonce, cr.NC and cr.URI.
	fmt.Println("valid:", Verify(cr, "REGISTER", "secret", nil))
	// Output:
	// WWW-Authenticate: Digest realm="atlanta.example.com", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", qop="auth"
	// valid: true
}
