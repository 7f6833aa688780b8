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

	mu      sync.Mutex
	ringing *sip.Call // an INVITE not answered yet
	call    *sip.Call // the answered call
	media   *media
}

// phoneHooks is what the phone tells the app.
type phoneHooks struct {
	token       func() string
	credentials func(ctx context.Context) (core.SIPCredentials, error)
	onEvent     func(sip.Event)
	onIncoming  func(*sip.Call)
}

// startPhone registers with cr; the UA asks hooks.credentials for fresh
// credentials before each later registration. It returns once the first
// registration succeeded or failed (the UA keeps trying after a failure).
func startPhone(ctx context.Context, cr core.SIPCredentials, h phoneHooks, log *slog.Logger) (*phone, error) {
	user, domain, ok := strings.Cut(strings.TrimPrefix(cr.AOR, "sip:"), "@")
	if !ok || user == "" || domain == "" {
		return nil, errorf("phone", "bad address of record %q", cr.AOR)
	}
	p := &phone{aor: cr.AOR}
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
		OnIncoming: func(c *sip.Call) { p.setRinging(c); h.onIncoming(c) },
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

// answer answers the ringing call with fresh media.
func (p *phone) answer(ctx context.Context, c *sip.Call, mk func(ctx context.Context) (*media, error)) error {
	m, err := mk(ctx)
	if err != nil {
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
