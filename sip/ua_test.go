//go:build !js

package sip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gosip "github.com/emiago/sipgo/sip"

	"github.com/agentbar/agentbar/internal/wspeer"
)

// events collects a UA's events for tests to wait on.
type events chan Event

func (ev events) wait(t *testing.T, kind EventKind) Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.Kind == kind {
				return e
			}
		case <-timeout:
			t.Fatalf("no %v event within 10s", kind)
		}
	}
}

// startUA registers user 1001 with the peer and returns the UA, its events
// and its incoming calls.
func startUA(t *testing.T, url string, mod func(*Config)) (*UA, events, chan *Call) {
	t.Helper()
	ev := make(events, 256)
	incoming := make(chan *Call, 8)
	cfg := Config{
		URL: url, User: "1001", Domain: "agentbar.test", Password: "pw1001",
		OnEvent:    func(e Event) { ev <- e },
		OnIncoming: func(c *Call) { incoming <- c },
	}
	if mod != nil {
		mod(&cfg)
	}
	ua, err := NewUA(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ua.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ua.Close(ctx)
	})
	return ua, ev, incoming
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var users = map[string]string{"1001": "pw1001"}

func TestRegisterDigest(t *testing.T) {
	for _, alg := range []string{"MD5", "SHA-256"} {
		t.Run(alg, func(t *testing.T) {
			peer := wspeer.Start(t, wspeer.Config{Users: users, Algorithm: alg})
			ua, _, _ := startUA(t, peer.URL(), nil)
			reg, err := peer.WaitRegistered(ctxT(t), "1001")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(reg.ContactURI.Host, ".invalid") || !strings.Contains(reg.Contact, "transport=ws") {
				t.Errorf("contact %q: want a .invalid host and transport=ws", reg.Contact)
			}
			if reg.Instance == "" || reg.RegID != 1 {
				t.Errorf("instance %q reg-id %d: want RFC 5626 +sip.instance and reg-id=1", reg.Instance, reg.RegID)
			}
			if !strings.Contains(reg.Supported, "outbound") || !strings.Contains(reg.Supported, "path") {
				t.Errorf("Supported %q: want outbound and path", reg.Supported)
			}
			var challenged, authorized bool
			for _, r := range peer.Requests() {
				if r.Method != gosip.REGISTER {
					continue
				}
				if a := r.GetHeader("Authorization"); a == nil {
					challenged = true
				} else if strings.Contains(strings.ToUpper(a.Value()), "ALGORITHM="+alg) && strings.Contains(a.Value(), "qop=auth") && strings.Contains(a.Value(), "nc=00000001") {
					authorized = true
				}
			}
			if !challenged || !authorized {
				t.Fatalf("want an unauthenticated REGISTER then one answering the %s challenge with qop=auth", alg)
			}
			if !ua.Registered() {
				t.Fatal("UA does not report registered")
			}
		})
	}
}

func TestRegisterWrongPassword(t *testing.T) {
	peer := wspeer.Start(t, wspeer.Config{Users: users})
	ua, err := NewUA(Config{URL: peer.URL(), User: "1001", Domain: "agentbar.test", Password: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close(context.Background())
	err = ua.Start(ctxT(t))
	var se *StatusError
	if !errors.As(err, &se) || (se.Code != 401 && se.Code != 403) {
		t.Fatalf("got %v, want a 401 or 403 StatusError", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatal("error message leaks the password")
	}
}

func TestUnregisterOnClose(t *testing.T) {
	peer := wspeer.Start(t, wspeer.Config{Users: users})
	ua, _, _ := startUA(t, peer.URL(), nil)
	if _, err := peer.WaitRegistered(ctxT(t), "1001"); err != nil {
		t.Fatal(err)
	}
	if err := ua.Close(ctxT(t)); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := peer.WaitUnregistered(ctxT(t), "1001"); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshBeforeExpiry(t *testing.T) {
	peer := wspeer.Start(t, wspeer.Config{Users: users})
	startUA(t, peer.URL(), func(c *Config) { c.Expires = 2 * time.Second })
	first, err := peer.WaitRegistered(ctxT(t), "1001")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range peer.Registrations() {
			if r.CSeq > first.CSeq {
				if r.CallID != first.CallID {
					t.Fatalf("refresh changed Call-ID %q -> %q", first.CallID, r.CallID)
				}
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no refresh within 5s of a 2s registration")
}

func TestInboundCall(t *testing.T) {
	peer := wspeer.Start(t, wspeer.Config{Users: users})
	_, ev, incoming := startUA(t, peer.URL(), nil)
	ctx := ctxT(t)
	if _, err := peer.WaitRegistered(ctx, "1001"); err != nil {
		t.Fatal(err)
	}
	media := &fakeMedia{}
	go func() {
		c := <-incoming
		if c.Remote() == "" || c.Header("X-Queue") != "support" {
			t.Errorf("call data: remote %q X-Queue %q", c.Remote(), c.Header("X-Queue"))
		}
		if err := c.Answer(ctx, media); err != nil {
			t.Errorf("answer: %v", err)
		}
	}()
	call, err := peer.Call(ctx, "1001", testSDP(SendRecv), wspeer.WithRecordRoute(), wspeer.WithHeader("X-Queue", "support"))
	if err != nil {
		t.Fatal(err)
	}
	if call.Final().StatusCode != 200 || !strings.Contains(string(call.Final().Body()), "m=audio") {
		t.Fatalf("final %v, want 200 with SDP", call.Final().StatusCode)
	}
	if got := call.Provisional(); len(got) < 1 || got[len(got)-1] != 180 {
		t.Errorf("provisional %v, want 180", got)
	}
	if err := call.Ack(); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, EventCallAnswered)

	// Hold and resume by re-INVITE from the far end.
	res, err := call.Reinvite(ctx, testSDP(SendOnly))
	if err != nil || res.StatusCode != 200 || sdpDirection(res.Body()) != RecvOnly {
		t.Fatalf("hold re-INVITE: %v %v, want 200 with recvonly", res, err)
	}
	ev.wait(t, EventCallHeld)
	res, err = call.Reinvite(ctx, testSDP(SendRecv))
	if err != nil || res.StatusCode != 200 || sdpDirection(res.Body()) != SendRecv {
		t.Fatalf("resume re-INVITE: %v %v", res, err)
	}
	ev.wait(t, EventCallResumed)

	// DTMF in INFO, UPDATE refused, OPTIONS answered.
	if res, err := call.Info(ctx, "application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"); err != nil || res.StatusCode != 200 {
		t.Fatalf("INFO: %v %v", res, err)
	}
	if e := ev.wait(t, EventCallDTMF); e.Digit != "5" {
		t.Fatalf("digit %q", e.Digit)
	}
	if res, err := call.Update(ctx); err != nil || res.StatusCode != 405 {
		t.Fatalf("UPDATE: %v %v, want 405", res, err)
	}
	if res, err := call.Options(ctx); err != nil || res.StatusCode != 200 {
		t.Fatalf("in-dialog OPTIONS: %v %v", res, err)
	}

	// The far end hangs up.
	if err := call.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if e := ev.wait(t, EventCallEnded); e.Cause != CauseRemoteHangup {
		t.Fatalf("cause %v", e.Cause)
	}
	if n := len(media.remotes()); n != 3 {
		t.Fatalf("media saw %d offers, want 3 (INVITE and two re-INVITEs)", n)
	}
}

func TestInboundRejectAndCancel(t *testing.T) {
	peer := wspeer.Start(t, wspeer.Config{})
	_, ev, incoming := startUA(t, peer.URL(), nil)
	ctx := ctxT(t)
	if _, err := peer.WaitRegistered(ctx, "1001"); err != nil {
		t.Fatal(err)
	}
	go func() { (<-incoming).Reject(486, "Busy Here") }()
	call, err := peer.Call(ctx, "1001", testSDP(SendRecv))
	if err != nil || call.Final().StatusCode != 486 {
		t.Fatalf("reject: %v, want 486", err)
	}
	if e := ev.wait(t, EventCallEnded); e.Cause != CauseRejected || e.Code != 486 {
		t.Fatalf("end %v %d", e.Cause, e.Code)
	}

	call, err = peer.CallAsync(ctx, "1001", testSDP(SendRecv))
	if err != nil {
		t.Fatal(err)
	}
	ringing := <-incoming
	res, err := call.Cancel(ctx)
	if err != nil || res.StatusCode != 487 {
		t.Fatalf("cancel: %v %v, want 487", res, err)
	}
	if e := ev.wait(t, EventCallEnded); e.Cause != CauseCanceled {
		t.Fatalf("cause %v", e.Cause)
	}
	if err := ringing.Answer(ctx, &fakeMedia{}); !errors.Is(err, ErrCallState) {
		t.Fatalf("answer after cancel: %v, want ErrCallState", err)
	}
}

func TestOutboundCall(t *testing.T) {
	for _, proxyAuth := range []bool{false, true} {
		name := map[bool]string{false: "401", true: "407"}[proxyAuth]
		t.Run(name, func(t *testing.T) {
			peer := wspeer.Start(t, wspeer.Config{Users: users, ProxyAuth: proxyAuth})
			peer.OnInvite("2000", wspeer.Answer{Provisional: []int{180, 183}, EarlySDP: testSDP(SendRecv), Code: 200, SDP: testSDP(SendRecv), RecordRoute: true})
			ua, ev, _ := startUA(t, peer.URL(), nil)
			ctx := ctxT(t)
			media := &fakeMedia{}
			call, err := ua.Dial(ctx, "2000", media)
			if err != nil {
				t.Fatal(err)
			}
			ev.wait(t, EventCallProgress)
			ev.wait(t, EventCallEarlyMedia)
			ev.wait(t, EventCallAnswered)
			sc, err := peer.WaitCall(ctx, "2000")
			if err != nil {
				t.Fatal(err)
			}
			if err := sc.WaitAck(ctx); err != nil {
				t.Fatal(err)
			}
			if media.early != 1 || len(media.remotes()) != 2 {
				t.Fatalf("media: %d provisional answers, %d remote SDPs; want 1 and 2", media.early, len(media.remotes()))
			}
			if err := call.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			if err := sc.WaitBye(ctx); err != nil {
				t.Fatal(err)
			}
			bye, _ := sc.WaitRequest(ctx, gosip.BYE)
			if bye == nil || bye.GetHeader("Route") == nil || bye.CSeq().SeqNo <= call.invite.CSeq().SeqNo {
				t.Fatalf("BYE must follow the Record-Route and raise CSeq: %v", bye)
			}
			if cause, _, _ := call.End(); cause != CauseLocalHangup {
				t.Fatalf("cause %v", cause)
			}
		})
	}
}

func TestOutboundFailureAndCancel(t *testing.T) {
	peer := wspeer.Start(t, wspeer.Config{})
	peer.OnInvite("busy", wspeer.Answer{Provisional: []int{180}, Code: 486})
	peer.OnInvite("slow", wspeer.Answer{Provisional: []int{180}, Code: 200, SDP: testSDP(SendRecv), Delay: 10 * time.Second})
	ua, ev, _ := startUA(t, peer.URL(), nil)
	ctx := ctxT(t)

	_, err := ua.Dial(ctx, "busy", &fakeMedia{})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 486 {
		t.Fatalf("got %v, want StatusError 486", err)
	}

	dialCtx, cancel := context.WithCancel(ctx)
	go func() {
		ev.wait(t, EventCallProgress)
		cancel()
	}()
	_, err = ua.Dial(dialCtx, "slow", &fakeMedia{})
	if !errors.Is(err, ErrCanceled) {
		t.Fatalf("got %v, want ErrCanceled", err)
	}
	sc, err := peer.WaitCall(ctx, "slow")
	if err != nil {
		t.Fatal(err)
	}
	if was, err := sc.WasCancelled(ctx); err != nil || !was {
		t.Fatalf("far end did not see CANCEL: %v", err)
	}
}

func TestTransactionTimeout(t *testing.T) {
	peer := wspeer.Start(t, wspeer.Config{})
	peer.OnInvite("mute", wspeer.Answer{Code: 200, SDP: testSDP(SendRecv), Delay: 20 * time.Second})
	ua, _, _ := startUA(t, peer.URL(), func(c *Config) { c.TransactionTimeout = 300 * time.Millisecond })
	_, err := ua.Dial(ctxT(t), "mute", &fakeMedia{})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
}

func TestReconnectReregisters(t *testing.T) {
	peer := wspeer.Start(t, wspeer.Config{Users: users})
	ua, ev, _ := startUA(t, peer.URL(), func(c *Config) { c.ReconnectMin = 50 * time.Millisecond })
	ctx := ctxT(t)
	first, err := peer.WaitRegistered(ctx, "1001")
	if err != nil {
		t.Fatal(err)
	}
	peer.DropConnections()
	ev.wait(t, EventDisconnected)
	ev.wait(t, EventConnected)
	ev.wait(t, EventRegistered)
	again, err := peer.WaitRegistered(ctx, "1001")
	if err != nil {
		t.Fatal(err)
	}
	if again.Source == first.Source {
		t.Fatalf("re-registered on the old flow %s", again.Source)
	}
	if !ua.Registered() {
		t.Fatal("not registered after reconnect")
	}
}

func TestKeepAliveCRLF(t *testing.T) {
	peer := wspeer.Start(t, wspeer.Config{})
	startUA(t, peer.URL(), func(c *Config) { c.KeepAlive = 50 * time.Millisecond })
	deadline := time.Now().Add(5 * time.Second)
	for peer.Keepalives() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("peer saw %d CRLF keep-alives, want 3", peer.Keepalives())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFlowLossFailsPendingTransaction(t *testing.T) {
	peer := wspeer.Start(t, wspeer.Config{})
	peer.OnInvite("mute", wspeer.Answer{Provisional: []int{180}, Code: 200, SDP: testSDP(SendRecv), Delay: 20 * time.Second})
	ua, ev, _ := startUA(t, peer.URL(), func(c *Config) { c.ReconnectMin = 50 * time.Millisecond })
	ctx := ctxT(t)
	go func() {
		ev.wait(t, EventCallProgress)
		peer.DropConnections()
	}()
	_, err := ua.Dial(ctx, "mute", &fakeMedia{})
	if !errors.Is(err, ErrTransport) {
		t.Fatalf("got %v, want ErrTransport", err)
	}
	ev.wait(t, EventRegistered)
}

// TestInboundEarlyMedia: EarlyMedia sends 183 with the media's answer while
// the call rings; Answer with the same media sends 200 with the same SDP
// without asking the media again; a second EarlyMedia, and Answer with
// other media, are refused.
func TestInboundEarlyMedia(t *testing.T) {
	peer := wspeer.Start(t, wspeer.Config{Users: users})
	_, ev, incoming := startUA(t, peer.URL(), nil)
	ctx := ctxT(t)
	if _, err := peer.WaitRegistered(ctx, "1001"); err != nil {
		t.Fatal(err)
	}
	media := &fakeMedia{}
	errs := make(chan error, 1)
	go func() {
		c := <-incoming
		if err := c.EarlyMedia(ctx, media); err != nil {
			errs <- fmt.Errorf("early media: %w", err)
			return
		}
		if err := c.EarlyMedia(ctx, &fakeMedia{}); !errors.Is(err, ErrCallState) {
			errs <- fmt.Errorf("second early media: %v, want ErrCallState", err)
			return
		}
		if err := c.Answer(ctx, &fakeMedia{}); !errors.Is(err, ErrCallState) {
			errs <- fmt.Errorf("answer with other media than the early answer's: %v, want ErrCallState", err)
			return
		}
		errs <- c.Answer(ctx, media)
	}()
	call, err := peer.Call(ctx, "1001", testSDP(SendRecv))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	var early []byte
	for _, r := range call.Responses() {
		if r.StatusCode == 183 {
			early = r.Body()
		}
	}
	final := call.Final()
	if len(early) == 0 || final.StatusCode != 200 || string(final.Body()) != string(early) {
		t.Fatalf("183 SDP %q, final %d with %q: want 183 with SDP, then 200 with the same", early, final.StatusCode, final.Body())
	}
	if n := len(media.remotes()); n != 1 {
		t.Fatalf("media answered %d offers, want 1", n)
	}
	if err := call.Ack(); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, EventCallAnswered)
	if err := call.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, EventCallEnded)
}
