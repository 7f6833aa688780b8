//go:build !js

package sip

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentbar/agentbar/internal/interop"
)

// TestKamailio runs the UA against real peers: Kamailio (Debian package) as
// the WebSocket registrar and proxy with digest auth, SIPp (sip-tester) as
// the far end over UDP. Never skipped: `make test` installs both.
func TestKamailio(t *testing.T) {
	for _, alg := range []string{"MD5", "SHA-256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			k := interop.StartKamailio(t, interop.KamailioConfig{Users: users, Algorithm: alg, ProxyAuthInvite: true})
			ua, ev, incoming := startUA(t, k.WSURL, func(c *Config) {
				c.Domain = k.Domain
				c.KeepAlive = 100 * time.Millisecond // CRLF keep-alives all along
			})
			if !ua.Registered() {
				t.Fatal("not registered")
			}
			flow := ua.currentFlow()
			defer func() {
				if ua.currentFlow() != flow || !ua.Registered() {
					t.Error("the flow did not survive the calls and keep-alives")
				}
			}()
			answer := func(t *testing.T) *Call {
				t.Helper()
				select {
				case c := <-incoming:
					if err := c.Answer(ctxT(t), &fakeMedia{}); err != nil {
						t.Fatalf("answer: %v", err)
					}
					return c
				case <-time.After(10 * time.Second):
					t.Fatal("no incoming call")
				}
				return nil
			}

			t.Run("inbound call ended by SIPp", func(t *testing.T) {
				s := interop.StartSIPp(t, "uac_call.xml", k.UDPAddr, "-s", "1001")
				c := answer(t)
				if err := s.Wait(ctxT(t)); err != nil {
					t.Fatal(err)
				}
				<-c.Done()
				if cause, _, _ := c.End(); cause != CauseRemoteHangup {
					t.Fatalf("cause %v", cause)
				}
			})

			t.Run("inbound CANCEL before answer", func(t *testing.T) {
				s := interop.StartSIPp(t, "uac_cancel.xml", k.UDPAddr, "-s", "1001")
				var c *Call
				select {
				case c = <-incoming:
				case <-time.After(10 * time.Second):
					t.Fatal("no incoming call")
				}
				if err := s.Wait(ctxT(t)); err != nil {
					t.Fatal(err)
				}
				<-c.Done()
				if cause, code, _ := c.End(); cause != CauseCanceled || code != 487 {
					t.Fatalf("end %v %d, want canceled 487", cause, code)
				}
			})

			t.Run("inbound re-INVITE hold and resume", func(t *testing.T) {
				s := interop.StartSIPp(t, "uac_hold.xml", k.UDPAddr, "-s", "1001")
				c := answer(t)
				if err := s.Wait(ctxT(t)); err != nil {
					t.Fatal(err)
				}
				<-c.Done()
				var held, resumed bool
				for len(ev) > 0 {
					e := <-ev
					held = held || (e.Kind == EventCallHeld && e.Call == c)
					resumed = resumed || (e.Kind == EventCallResumed && e.Call == c)
				}
				if !held || !resumed {
					t.Fatalf("held %v resumed %v, want both", held, resumed)
				}
			})

			t.Run("outbound call ended by us", func(t *testing.T) {
				s := interop.StartSIPp(t, "uas_call.xml", "")
				media := &fakeMedia{}
				c, err := ua.Dial(ctxT(t), s.URI("service"), media)
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Hangup(ctxT(t)); err != nil {
					t.Fatalf("hangup: %v", err)
				}
				if err := s.Wait(ctxT(t)); err != nil {
					t.Fatal(err)
				}
				if n := len(media.remotes()); n != 1 || !strings.Contains(string(media.remotes()[0]), "m=audio") {
					t.Fatalf("media got %d answers", n)
				}
			})

			t.Run("outbound CANCEL before answer", func(t *testing.T) {
				s := interop.StartSIPp(t, "uas_cancel.xml", "")
				ctx, cancel := context.WithCancel(ctxT(t))
				for len(ev) > 0 {
					<-ev // progress events of earlier calls
				}
				go func() {
					for e := range ev {
						if e.Kind == EventCallProgress {
							cancel()
							return
						}
					}
				}()
				_, err := ua.Dial(ctx, s.URI("service"), &fakeMedia{})
				if !errors.Is(err, ErrCanceled) {
					t.Fatalf("got %v, want ErrCanceled", err)
				}
				if err := s.Wait(ctxT(t)); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}
