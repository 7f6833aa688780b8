package check

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	gosip "github.com/emiago/sipgo/sip"
)

// The regular expressions the hand-written matchers replaced; the matchers
// must agree with them on every input.
var (
	addrHeaderRe = regexp.MustCompile(`(?im)^(contact|m|to|t|from|f)[ \t]*:(.*(?:\r\n[ \t].*)*)`)
	schemeRe     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)
	rawHeaderRe  = regexp.MustCompile(`(?i)^(via|v|from|f|to|t|call-id|i|cseq)[ \t]*:`)
)

// addrValuesRe is what Raw used to take from a message head.
func addrValuesRe(head string) []string {
	var out []string
	for _, m := range addrHeaderRe.FindAllStringSubmatch(head, -1) {
		out = append(out, m[2])
	}
	return out
}

func addrValues(head string) []string {
	var out []string
	for _, line := range strings.Split(head, "\n") {
		if _, v, ok := headerNamed(line, addrHeaders); ok {
			out = append(out, v)
		}
	}
	return out
}

func randomText(r *rand.Rand, alphabet []string, n int) string {
	var b strings.Builder
	for range r.IntN(n) {
		b.WriteString(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

func TestMatchersAgreeWithRegexps(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{
		"Contact", "contact", "m", "M", "To", "t", "From", "f", "F", "via", "VIA", "v", "call-id", "Call-ID", "i", "I",
		"cseq", "CSeq", "C\u017feq", "\u212a", "max-forwards", "x", "-", "+", ".", "1",
		" ", "\t", ":", "\r\n", "\n", "\r", "\r\n ", "<sip:a@b?c=d>", "sip:a@b?x", ",", "\"", "\xff", "é",
	}
	fixed := []string{
		"", ":", "t:", "T :x", "to\t:a\r\nm: b", "Contact: <sip:a@b>\r\n  , sip:c?d", "from:x\r\nFROM :y\r\n",
		"via:", "Via  :", "vias:", "v:x", "call-id:1", "CALL-ID :", "cseq: 1", "C\u017fEQ: 1", "cSeq", "i:", "ix:",
		"http", "a+b.c-d", "1abc", "a b", "sip\n", "é", "A",
	}
	inputs := fixed
	for range 20000 {
		inputs = append(inputs, randomText(r, alphabet, 12))
	}
	for _, in := range inputs {
		if got, want := addrValues(in), addrValuesRe(in); strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
			t.Fatalf("addr headers of %q: %q, the regexp %q", in, got, want)
		}
		if got, want := isScheme(in), schemeRe.MatchString(in); got != want {
			t.Fatalf("isScheme(%q) = %v, the regexp %v", in, got, want)
		}
		m := rawHeaderRe.FindStringSubmatch(in)
		name, _, ok := headerNamed(in, rawHeaders)
		if ok != (m != nil) || ok && name != m[1] {
			t.Fatalf("raw header %q: %q %v, the regexp %q", in, name, ok, m)
		}
	}
}

// TestRawFoldedHeader: a URI with headers outside angle brackets is found
// on a continuation line too.
func TestRawFoldedHeader(t *testing.T) {
	msg := "INVITE sip:a@b SIP/2.0\r\nContact: <sip:a@b>,\r\n sip:c@d?x=y\r\nTo: <sip:a@b>\r\n\r\n"
	if r := Raw([]byte(msg)); r == nil || r.Code != 400 {
		t.Fatalf("Raw = %+v, want 400", r)
	}
	ok := "INVITE sip:a@b SIP/2.0\r\nContact: <sip:a@b>,\r\n <sip:c@d?x=y>\r\nTo: <sip:a@b>\r\n\r\n"
	if r := Raw([]byte(ok)); r != nil {
		t.Fatalf("Raw = %+v for headers inside angle brackets", r)
	}
}

// TestUnparsableCodes: over the parser's size limit is 513, a foreign
// Request-URI scheme 416, anything else 400 with the parser's complaint.
func TestUnparsableCodes(t *testing.T) {
	head := "OPTIONS %s SIP/2.0\r\nVia: SIP/2.0/UDP peer;branch=z9hG4bK1\r\nFrom: <sip:p@peer>;tag=1\r\nTo: <sip:q@here>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n\r\n"
	for _, tc := range []struct {
		ruri string
		err  error
		want string
	}{
		{"sip:q@here", fmt.Errorf("wrapped: %w", gosip.ErrMessageTooLarge), "SIP/2.0 513 Message Too Large\r\n"},
		{"mailto:q@here", errors.New("bad uri"), "SIP/2.0 416 Unsupported URI Scheme\r\n"},
		{"sip:q@here", errors.New("bad header"), "SIP/2.0 400 Bad Request (bad header)\r\n"},
	} {
		if got := string(Unparsable([]byte(fmt.Sprintf(head, tc.ruri)), tc.err)); !strings.HasPrefix(got, tc.want) {
			t.Errorf("Unparsable(%s, %v) = %q, want %q first", tc.ruri, tc.err, strings.SplitN(got, "\r\n", 2)[0], tc.want)
		}
	}
}
