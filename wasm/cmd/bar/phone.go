//go:build js && wasm

package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/agentbar/agentbar/sip"
	"github.com/agentbar/agentbar/wasm/core"
)

// phone is the soft phone: the sip UA registered through the server's SIP
// edge with short-lived credentials, and the media of its call.
type phone struct {
	ua  *sip.UA
	aor string
	log *slog.Logger

	mu      sync.Mutex
	ringing *sip.Call // an INVITE not answered yet
	call    *sip.Call // the answered call
	media   *media
	prep    *prepared // media made for the ringing call (early media)
}

// prepared is media made while a call rings, its answer sent in a 183:
// whoever takes it out of phone.prep (answer, or the call's end) owns m.
type prepared struct {
	call   *sip.Call
	cancel context.CancelFunc
	done   chan struct{} // closed once m is set (nil if it failed)
	m      *media
}

// phoneHooks is what the phone tells the app.
type phoneHooks struct {
	token       func() string
	credentials func(ctx context.Context) (core.SIPCredentials, error)
	onEvent     func(sip.Event)
	onIncoming  func(*phone, *sip.Call)
}

// startPhone registers cr's address of record at cr's edge, answering the
// registrar's challenges with cr while they are good for another two
// minutes and with fresh ones from hooks.credentials after that (or at
// once, if cr holds only the address). It returns once the first
// registration succeeded or failed (the UA keeps trying after a failure).
func startPhone(ctx context.Context, cr core.SIPCredentials, h phoneHooks, log *slog.Logger) (*phone, error) {
	user, domain, ok := strings.Cut(strings.TrimPrefix(cr.AOR, "sip:"), "@")
	if !ok || user == "" || domain == "" {
		return nil, errorf("phone", "bad address of record %q", cr.AOR)
	}
	p := &phone{aor: cr.AOR, log: log}
	var credMu sync.Mutex
	current := cr
	ua, err := sip.NewUA(sip.Config{
		URL: cr.URI, User: user, Domain: domain,
		UserAgent: "agentbar-wasm",
		Credentials: func(ctx context.Context) (string, string, error) {
			credMu.Lock()
			defer credMu.Unlock()
			if time.Until(current.Expires) < 2*time.Minute {
				fresh, err := h.credentials(ctx)
				if err != nil {
					return "", "", err
				}
				current = fresh
			}
			return current.User, current.Password, nil
		},
		Protocols:  func() []string { return []string{core.TokenPrefix + h.token()} },
		Logger:     log,
		OnIncoming: func(c *sip.Call) { p.setRinging(c); h.onIncoming(p, c) },
		OnEvent: func(e sip.Event) {
			if e.Kind == sip.EventCallEnded {
				p.ended(e.Call)
			}
			h.onEvent(e)
		},
	})
	if err != nil {
		return nil, errorf("phone", "%v", err)
	}
	p.ua = ua
	if err := ua.Start(ctx); err != nil {
		return p, errorf("phone", "registration: %v", err)
	}
	return p, nil
}

func (p *phone) setRinging(c *sip.Call) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ringing != nil && p.ringing.State() == sip.CallRinging {
		// A second INVITE while one rings: the bar handles one at a time.
		go c.Reject(486, "Busy Here")
		return
	}
	p.ringing = c
}

// ended forgets a call and closes its media.
func (p *phone) ended(c *sip.Call) {
	p.dropPrepared(c)
	p.mu.Lock()
	var m *media
	if p.ringing == c {
		p.ringing = nil
	}
	if p.call == c {
		p.call, m, p.media = nil, p.media, nil
	}
	p.mu.Unlock()
	if m != nil {
		m.Close()
	}
}

// Ringing is the unanswered incoming call, if any.
func (p *phone) Ringing() *sip.Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ringing != nil && p.ringing.State() != sip.CallRinging {
		return nil
	}
	return p.ringing
}

// waitRinging waits up to d for an INVITE (the CTI event may come first).
func (p *phone) waitRinging(ctx context.Context, d time.Duration) *sip.Call {
	deadline := time.Now().Add(d)
	for {
		if c := p.Ringing(); c != nil {
			return c
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// prepare makes media for the ringing call c with mk, in the background,
// and answers the INVITE's offer with it in a 183 (sip.Call.EarlyMedia),
// so that ICE and DTLS complete while the call rings. Nothing is prepared
// for a call that is not the one ringing, or while another call is up
// (its audio element is in use).
func (p *phone) prepare(c *sip.Call, mk func(ctx context.Context) (*media, error)) {
	p.mu.Lock()
	if p.ringing != c || p.call != nil || p.prep != nil {
		p.mu.Unlock()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	pr := &prepared{call: c, cancel: cancel, done: make(chan struct{})}
	p.prep = pr
	p.mu.Unlock()
	go func() {
		defer close(pr.done)
		t0 := time.Now()
		m, err := mk(ctx)
		if err == nil {
			if err = c.EarlyMedia(ctx, m); err != nil {
				m.Close()
			}
		}
		if err != nil {
			p.log.Info("agentbar: no early media, the answer makes its own", "err", err)
			return
		}
		p.log.Debug("agentbar: early media sent", "took", time.Since(t0))
		pr.m = m
	}()
}

// takePrepared hands over the media prepared for c, waiting for it if it
// is still being made; nil if there is none or it failed.
func (p *phone) takePrepared(ctx context.Context, c *sip.Call) *media {
	p.mu.Lock()
	pr := p.prep
	p.mu.Unlock()
	if pr == nil || pr.call != c {
		return nil
	}
	select {
	case <-pr.done:
	case <-ctx.Done():
		return nil
	}
	p.mu.Lock()
	mine := p.prep == pr
	if mine {
		p.prep = nil
	}
	p.mu.Unlock()
	if !mine {
		return nil // dropped meanwhile: the call ended
	}
	pr.cancel()
	return pr.m
}

// dropPrepared closes the media prepared for c (any call if c is nil):
// the call was rejected, canceled, answered elsewhere or ended.
func (p *phone) dropPrepared(c *sip.Call) {
	p.mu.Lock()
	pr := p.prep
	if pr == nil || (c != nil && pr.call != c) {
		p.mu.Unlock()
		return
	}
	p.prep = nil
	p.mu.Unlock()
	pr.cancel()
	go func() {
		<-pr.done
		if pr.m != nil {
			pr.m.Close()
		}
	}()
}

// answer answers the ringing call with the media prepared for it, else
// with fresh media from mk; ready readies either just before the 200 OK
// (waits for its microphone). Prepared media that is not ready fails the
// answer: the far end's transport already follows its early answer, so
// other media cannot take its place.
func (p *phone) answer(ctx context.Context, c *sip.Call, mk func(ctx context.Context) (*media, error), ready func(context.Context, *media) error) error {
	m := p.takePrepared(ctx, c)
	if m == nil {
		var err error
		if m, err = mk(ctx); err != nil {
			return err
		}
	}
	if err := ready(ctx, m); err != nil {
		m.Close()
		return err
	}
	p.mu.Lock()
	if p.ringing == c {
		p.ringing = nil
	}
	p.call, p.media = c, m
	p.mu.Unlock()
	if err := c.Answer(ctx, m); err != nil {
		p.ended(c)
		m.Close()
		return errorf("phone", "answer: %v", err)
	}
	return nil
}

// Media is the current call's media, or nil.
func (p *phone) Media() *media {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.media
}

// Call is the answered call, or nil.
func (p *phone) Call() *sip.Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.call
}

// close hangs up, unregisters and closes the flow.
func (p *phone) close(ctx context.Context) {
	p.dropPrepared(nil)
	if p.ua != nil {
		p.ua.Close(ctx)
	}
	p.mu.Lock()
	m := p.media
	p.call, p.media, p.ringing = nil, nil, nil
	p.mu.Unlock()
	if m != nil {
		m.Close()
	}
}
