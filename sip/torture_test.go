package sip

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	gosip "github.com/emiago/sipgo/sip"

	"github.com/agentbar/agentbar/sip/check"
)

// The 49 messages of RFC 4475 (SIP torture tests), as the RFC publishes
// them, live in testdata/rfc4475. Each is fed to the UA's receive path as
// one WebSocket message; the table says what a UA must answer (RFC 4475 and
// RFC 3261 §8.2), and for the valid ones what it must have understood.
// An empty want means the message is dropped silently (a response that
// matches no transaction).
func TestRFC4475(t *testing.T) {
	req := func(m gosip.Message) *gosip.Request { return m.(*gosip.Request) }
	tag := func(p gosip.HeaderParams) string { v, _ := p.Get("tag"); return v }
	tests := []struct {
		name  string
		want  []int
		check func(t *testing.T, m gosip.Message)
	}{
		// 3.1.1 valid messages: accepted and understood.
		{"wsinv", []int{481}, func(t *testing.T, m gosip.Message) { // in-dialog INVITE for an unknown dialog
			r := req(m)
			vias := r.GetHeaders("Via")
			branch, _ := vias[1].(*gosip.ViaHeader).Params.Get("branch")
			q, _ := r.Contact().Params.Get("q")
			same(t, "To tag", tag(r.To().Params), "1918181833n")
			same(t, "From tag", tag(r.From().Params), "98asjd8")
			same(t, "second Via transport", vias[1].(*gosip.ViaHeader).Transport, "TCP")
			same(t, "second Via branch", branch, "z9hG4bK9ikj8")
			same(t, "Contact q", q, "0.33")
			same(t, "Vias", len(vias), 3)
			same(t, "Max-Forwards", int(r.MaxForwards().Val()), 68)
			same(t, "CSeq", int(r.CSeq().SeqNo), 9)
			same(t, "body", len(r.Body()), 150)
		}},
		{"intmeth", []int{501}, func(t *testing.T, m gosip.Message) {
			same(t, "method", string(req(m).Method), "!interesting-Method0123456789_*+`.%indeed'~")
		}},
		{"esc01", []int{180}, func(t *testing.T, m gosip.Message) {
			same(t, "R-URI user", req(m).Recipient.User, "sips%3Auser%40example.com")
		}},
		{"escnull", []int{405}, func(t *testing.T, m gosip.Message) {
			same(t, "To user", req(m).To().Address.User, "null-%00-null")
		}},
		{"esc02", []int{501}, func(t *testing.T, m gosip.Message) {
			same(t, "method", string(req(m).Method), "RE%47IST%45R")
		}},
		{"lwsdisp", []int{200}, func(t *testing.T, m gosip.Message) {
			same(t, "From display name", req(m).From().DisplayName, "caller")
		}},
		{"longreq", []int{180}, func(t *testing.T, m gosip.Message) {
			same(t, "To port", req(m).To().Address.Port, 6000)
		}},
		{"dblreq", []int{405}, func(t *testing.T, m gosip.Message) { // extra octets after Content-Length are ignored
			same(t, "body", len(req(m).Body()), 0)
			same(t, "method", string(req(m).Method), "REGISTER")
		}},
		{"semiuri", []int{200}, func(t *testing.T, m gosip.Message) {
			same(t, "R-URI user", req(m).Recipient.User, "user;par=u%40example.net")
		}},
		{"transports", []int{200}, func(t *testing.T, m gosip.Message) {
			var tps []string
			for _, h := range req(m).GetHeaders("Via") {
				tps = append(tps, h.(*gosip.ViaHeader).Transport)
			}
			same(t, "Via transports", len(tps), 5)
		}},
		{"mpart01", []int{405}, func(t *testing.T, m gosip.Message) { // MESSAGE: parsed, not a method we take
			same(t, "method", string(req(m).Method), "MESSAGE")
		}},
		{"unreason", nil, func(t *testing.T, m gosip.Message) {
			same(t, "status", m.(*gosip.Response).StatusCode, 200)
		}},
		{"noreason", nil, func(t *testing.T, m gosip.Message) {
			same(t, "status", m.(*gosip.Response).StatusCode, 100)
			same(t, "reason", m.(*gosip.Response).Reason, "")
		}},
		// 3.1.2 invalid messages: refused.
		{"badinv01", []int{400}, nil},
		{"clerr", []int{400}, nil},
		{"ncl", []int{400}, nil},
		{"scalar02", []int{400}, nil},
		{"scalarlg", nil, nil}, // a response: dropped
		{"quotbal", []int{400}, nil},
		{"ltgtruri", []int{400}, nil},
		{"lwsruri", []int{400}, nil},
		{"lwsstart", []int{400}, nil},
		{"trws", []int{400}, nil},
		{"escruri", []int{400}, nil},
		{"baddate", []int{180}, nil}, // §3.1.2.12: may be processed when Date does not matter, as here
		{"regbadct", []int{400}, nil},
		{"badaspec", []int{400}, nil},
		{"baddn", []int{400}, nil},
		{"badvers", []int{505}, nil},
		{"mismatch01", []int{400}, nil},
		{"mismatch02", []int{501}, nil}, // unknown method wins over the mismatch (§3.1.2.18)
		{"bigcode", nil, nil},           // a response: dropped
		// 3.2 transaction layer.
		{"badbranch", []int{200}, nil}, // a bare magic cookie is still a branch
		// 3.3 application layer, as a UA (not a registrar or proxy) sees it.
		{"insuf", []int{400}, nil},
		{"unkscm", []int{416}, nil},
		{"novelsc", []int{416}, nil},
		{"unksm2", []int{416}, nil},
		{"bext01", []int{420}, nil},
		{"invut", []int{415}, nil},
		{"regaut01", []int{405}, nil}, // a UA is not a registrar
		{"multi01", []int{400}, nil},
		{"mcl01", []int{400}, nil},
		{"bcast", nil, nil},         // a response: dropped
		{"zeromf", []int{200}, nil}, // an endpoint processes Max-Forwards 0
		{"cparam01", []int{405}, func(t *testing.T, m gosip.Message) { // unknownparam is a Contact parameter
			same(t, "Contact param", req(m).Contact().Params.Has("unknownparam"), true)
		}},
		{"cparam02", []int{405}, func(t *testing.T, m gosip.Message) { // unknownparam is a URI parameter
			same(t, "URI param", req(m).Contact().Address.UriParams.Has("unknownparam"), true)
		}},
		{"regescrt", []int{405}, nil},
		{"sdp01", []int{406}, nil},
		// 3.4 backward compatibility.
		{"inv2543", []int{180}, nil},
	}
	files, err := filepath.Glob("testdata/rfc4475/*.dat")
	if err != nil || len(files) != 49 || len(tests) != 49 {
		t.Fatalf("want 49 messages and 49 cases, have %d files and %d cases (%v)", len(files), len(tests), err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile("testdata/rfc4475/" + tc.name + ".dat")
			if err != nil {
				t.Fatal(err)
			}
			ringing := make(chan *Call, 1)
			ua := newTestUA(t, func(c *Call) { ringing <- c })
			rec := &recorder{}
			ua.receive(rec, data)
			if got := rec.statuses(t); !slices.Equal(got, tc.want) {
				t.Fatalf("responses %v, want %v", got, tc.want)
			}
			if slices.Contains(tc.want, 180) {
				if c := <-ringing; c.State() != CallRinging {
					t.Fatalf("call state %v, want ringing", c.State())
				}
			}
			if tc.check != nil {
				m, err := gosip.NewParser().ParseSIP(data)
				if err != nil {
					t.Fatalf("valid message did not parse: %v", err)
				}
				check.Normalize(m.(interface{ Headers() []gosip.Header }))
				if r, ok := m.(*gosip.Request); ok {
					check.RestoreMethod(r, data)
				}
				tc.check(t, m)
			}
		})
	}
}

func same[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// FuzzReceive feeds arbitrary bytes to the receive path: it must never
// panic, and whatever it writes back must be a well-formed SIP response.
func FuzzReceive(f *testing.F) {
	files, _ := filepath.Glob("testdata/rfc4475/*.dat")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ua := newTestUA(t, func(c *Call) { c.Reject(486, "Busy Here") })
		rec := &recorder{}
		ua.receive(rec, data)
		rec.statuses(t)
	})
}
