package callcenter

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// heldRinging is a WebSocket relay between a phone and the call center
// that holds back the phone's 180 and 183 responses until release is
// closed (passing everything else), and tells invites of each INVITE it
// passes to the phone.
type heldRinging struct {
	upstream string
	release  chan struct{}
	invites  chan struct{}
}

func newHeldRinging(t *testing.T, cc *CallCenter) (*heldRinging, string) {
	h := &heldRinging{upstream: "ws://" + cc.Addrs().WS, release: make(chan struct{}), invites: make(chan struct{}, 4)}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, "ws" + strings.TrimPrefix(srv.URL, "http")
}

func (h *heldRinging) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	page, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"sip"}})
	if err != nil {
		return
	}
	defer page.CloseNow()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	cc, _, err := websocket.Dial(ctx, h.upstream, &websocket.DialOptions{Subprotocols: []string{"sip"}})
	if err != nil {
		return
	}
	defer cc.CloseNow()
	go func() {
		defer cancel()
		for {
			typ, b, err := cc.Read(ctx)
			if err != nil {
				return
			}
			if bytes.HasPrefix(b, []byte("INVITE ")) {
				h.invites <- struct{}{}
			}
			if page.Write(ctx, typ, b) != nil {
				return
			}
		}
	}()
	var (
		mu       sync.Mutex
		held     [][]byte
		released bool
	)
	go func() {
		select {
		case <-h.release:
		case <-ctx.Done():
			return
		}
		mu.Lock()
		defer mu.Unlock()
		released = true
		for _, b := range held {
			cc.Write(ctx, websocket.MessageText, b)
		}
	}()
	for {
		typ, b, err := page.Read(ctx)
		if err != nil {
			return
		}
		mu.Lock()
		if !released && bytes.HasPrefix(b, []byte("SIP/2.0 18")) {
			held = append(held, b)
			mu.Unlock()
			continue
		}
		err = cc.Write(ctx, typ, b)
		mu.Unlock()
		if err != nil {
			return
		}
	}
}

// TestOfferAnnouncedWhenPhoneRings: the agent hears of an offered call
// (busy, call.incoming, call.ringing) only once the phone's 180 is back, so
// that a browser phone gets its INVITE before any event it would redraw
// the page for.
func TestOfferAnnouncedWhenPhoneRings(t *testing.T) {
	cc, _ := newTestCC(t, nil)
	relay, url := newHeldRinging(t, cc)
	a1 := signInAt(t, cc, url, "a1", ignoreCalls)
	a1.ready(t)
	ev := a1.ev

	if _, err := cc.PlaceCall("support", "alice", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-relay.invites:
	case <-time.After(waitTimeout):
		t.Fatal("no INVITE reached the phone")
	}
	a1.phone.next() // the phone has it (and its 180 is held)
	ev.mu.Lock()
	early := describe(ev.events[ev.next:])
	ev.mu.Unlock()
	if early != "" {
		t.Fatalf("events before the phone rang: %s", early)
	}
	close(relay.release)
	ev.state(gateway.StateBusy, "")
	in := ev.call(gateway.EvCallIncoming)
	if in.Call.State != "ringing" || in.Call.Caller != "alice" {
		t.Errorf("call.incoming = %+v", in.Call)
	}
	ev.call(gateway.EvCallRinging)
}

// TestOfferNeverRangAnnounced: a phone that never rings still leaves the
// agent a whole story, in order: busy, call.incoming, call.ringing, then
// call.ended (missed) and not ready.
func TestOfferNeverRangAnnounced(t *testing.T) {
	cc, _ := newTestCC(t, func(c *Config) { c.RingTimeout = 300 * time.Millisecond })
	_, url := newHeldRinging(t, cc) // release is never closed
	a1 := signInAt(t, cc, url, "a1", ignoreCalls)
	a1.ready(t)
	ev := a1.ev
	if _, err := cc.PlaceCall("support", "alice", nil); err != nil {
		t.Fatal(err)
	}
	ev.state(gateway.StateNotReady, ReasonMissed)
	ev.mu.Lock()
	got := describe(ev.events)
	ev.mu.Unlock()
	want := "agent.state(not_ready ) agent.state(ready ) agent.state(busy ) call.incoming[ringing ] call.ringing[ringing ] call.ended[ended missed] agent.state(not_ready missed) "
	if got != want {
		t.Errorf("events:\n got %s\nwant %s", got, want)
	}
}
