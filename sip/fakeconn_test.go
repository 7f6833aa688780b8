package sip

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	gosip "github.com/emiago/sipgo/sip"
)

// recorder is a conn that keeps what the UA writes, for tests that feed the
// receive path directly.
type recorder struct {
	mu   sync.Mutex
	sent [][]byte
}

func (r *recorder) writeRaw(b []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, append([]byte(nil), b...))
	return nil
}
func (r *recorder) WriteMsg(m gosip.Message) error { return r.writeRaw([]byte(m.String())) }
func (r *recorder) LocalAddr() net.Addr            { return wsAddr("test.invalid") }
func (r *recorder) Ref(int) int                    { return 1 }
func (r *recorder) TryClose() (int, error)         { return 0, nil }
func (r *recorder) Close() error                   { return nil }

// statuses are the status codes of the responses written so far, in order,
// read from the status line (a 400 may echo headers that do not parse).
func (r *recorder) statuses(t testing.TB) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for _, b := range r.sent {
		line, _, _ := strings.Cut(string(b), "\r\n")
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "SIP/2.0" {
			continue
		}
		code, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatalf("UA wrote a bad status line %q", line)
		}
		out = append(out, code)
	}
	return out
}

// last is the last message written, parsed.
func (r *recorder) last(t testing.TB) gosip.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sent) == 0 {
		t.Fatal("nothing written")
	}
	m, err := gosip.ParseMessage(r.sent[len(r.sent)-1])
	if err != nil {
		t.Fatalf("UA wrote an unparseable message: %v", err)
	}
	return m
}

// newTestUA is a UA that is never started: tests drive receive directly.
func newTestUA(t testing.TB, onIncoming func(*Call)) *UA {
	t.Helper()
	ua, err := NewUA(Config{URL: "ws://127.0.0.1:1", User: "1001", Domain: "example.com", OnIncoming: onIncoming})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ua.mu.Lock()
		ua.closed = true
		ua.mu.Unlock()
		ua.cancel()
		ua.terminateTransactions()
		ua.events.close()
	})
	return ua
}
