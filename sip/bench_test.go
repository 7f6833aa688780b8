//go:build !js

package sip

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/coder/websocket"
	gosip "github.com/emiago/sipgo/sip"
)

// echoServer is a minimal SIP-over-WebSocket far end for benchmarks: it
// answers every request but ACK with 200 at once (with SDP for INVITE), so
// that what is measured is the UA's own work plus a loopback WebSocket.
func echoServer(b *testing.B) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"sip"}})
		if err != nil {
			return
		}
		defer ws.CloseNow()
		p := gosip.NewParser()
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			m, err := p.ParseSIP(data)
			req, ok := m.(*gosip.Request)
			if err != nil || !ok || req.IsAck() {
				continue
			}
			res := gosip.NewResponseFromRequest(req, 200, "OK", nil)
			if req.IsInvite() {
				res.AppendHeader(&gosip.ContactHeader{Address: gosip.Uri{Scheme: "sip", User: "far", Host: "127.0.0.1"}})
				res.AppendHeader(gosip.NewHeader("Content-Type", "application/sdp"))
				res.SetBody([]byte(testSDP(SendRecv)))
			}
			if req.Method == gosip.REGISTER {
				res.AppendHeader(gosip.HeaderClone(req.Contact()))
			}
			ws.Write(context.Background(), websocket.MessageText, []byte(res.String()))
		}
	}))
	b.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func benchUA(b *testing.B) *UA {
	ua, err := NewUA(Config{URL: echoServer(b), User: "1001", Domain: "agentbar.test", KeepAlive: -1})
	if err != nil {
		b.Fatal(err)
	}
	if err := ua.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ua.Close(context.Background()) })
	return ua
}

// BenchmarkRegister is one REGISTER round trip: build, send, parse the 200,
// match it to its transaction and record the binding.
func BenchmarkRegister(b *testing.B) {
	ua := benchUA(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ua.register(ctx, 600e9); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDial is one outgoing call: INVITE, 200, ACK, then BYE and its 200.
func BenchmarkDial(b *testing.B) {
	ua := benchUA(b)
	ctx := context.Background()
	media := &fakeMedia{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := ua.Dial(ctx, "2000", media)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Hangup(ctx); err != nil {
			b.Fatal(err)
		}
		media.remote = media.remote[:0]
	}
}

// BenchmarkReceiveInvite is the receive path of one incoming INVITE, without
// a network: parse, validate, server transaction, the 180 built and
// written, then a 486 to end it.
func BenchmarkReceiveInvite(b *testing.B) {
	data, err := os.ReadFile("testdata/rfc4475/inv2543.dat")
	if err != nil {
		b.Fatal(err)
	}
	ua := newTestUA(b, nil)
	ua.cfg.OnIncoming = nil
	rec := &recorder{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		msg := strings.Replace(string(data), "inv2543.", "inv"+string(rune('a'+i%26))+randomToken(8)+".", 1)
		ua.receive(rec, []byte(msg))
		rec.sent = rec.sent[:0]
	}
}
