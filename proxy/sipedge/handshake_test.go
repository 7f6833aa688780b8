package sipedge

import (
	"context"
	"time"

	"github.com/coder/websocket"
	"net/http"
	"strings"
	"testing"
)

func TestHandshake(t *testing.T) {
	up := newFakeUpstream(t)
	open := startEdge(t, up.uri(), nil) // same-host Origin policy
	listed := startEdge(t, up.uri(), func(c *Config) { c.AllowedOrigins = []string{"https://crm.example.com"} })
	sameHost := "http://" + strings.TrimPrefix(open.srv.URL, "http://")
	origin := func(o string) http.Header { return http.Header{"Origin": {o}} }

	for _, tc := range []struct {
		name   string
		te     *testEdge
		token  string
		hdr    http.Header
		protos []string // replaces the offered subprotocols when set
		want   int
	}{
		{name: "same host", te: open, token: "tok-1001", hdr: origin(sameHost), want: 101},
		{name: "no Origin (not a browser)", te: open, token: "tok-1001", want: 101},
		{name: "other origin", te: open, token: "tok-1001", hdr: origin("https://evil.example.com"), want: 403},
		{name: "null origin", te: open, token: "tok-1001", hdr: origin("null"), want: 403},
		{name: "listed origin", te: listed, token: "tok-1001", hdr: origin("https://crm.example.com"), want: 101},
		{name: "unlisted origin", te: listed, token: "tok-1001", hdr: origin("https://crm.example.com.evil.net"), want: 403},
		{name: "listed policy, same host", te: listed, token: "tok-1001", hdr: origin(sameHost), want: 403},
		{name: "listed policy, no Origin", te: listed, token: "tok-1001", want: 403},
		{name: "bad origin before bad token", te: open, token: "", hdr: origin("https://evil.example.com"), want: 403},
		{name: "missing token", te: open, want: 401},
		{name: "invalid token", te: open, token: "tok-9999", want: 401},
		{name: "empty token", te: open, protos: []string{"sip", "access_token."}, want: 401},
		{name: "bearer header instead", te: open, hdr: http.Header{"Authorization": {"Bearer tok-1002"}}, want: 101},
		{name: "no sip subprotocol", te: open, protos: []string{"access_token.tok-1001"}, want: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			protos := tc.protos
			if protos == nil {
				protos = []string{Subprotocol}
				if tc.token != "" {
					protos = append(protos, TokenProtocolPrefix+tc.token)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ws, res, err := websocket.Dial(ctx, tc.te.url(), &websocket.DialOptions{Subprotocols: protos, HTTPHeader: tc.hdr})
			if res == nil {
				t.Fatalf("no HTTP response: %v", err)
			}
			if res.StatusCode != tc.want {
				t.Fatalf("HTTP %d, want %d (%v)", res.StatusCode, tc.want, err)
			}
			if tc.want == 401 && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge")
			}
			if tc.want != 101 {
				return
			}
			defer ws.CloseNow()
			if got := res.Header.Values("Sec-WebSocket-Protocol"); len(got) != 1 || got[0] != "sip" {
				t.Fatalf("server answered subprotocols %q, want exactly sip", got)
			}
		})
	}

	t.Run("plain GET", func(t *testing.T) {
		res, err := http.Get(open.srv.URL + "/v1/sip")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUpgradeRequired {
			t.Fatalf("HTTP %d, want 426", res.StatusCode)
		}
	})
}
