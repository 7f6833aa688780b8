//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
	"github.com/agentbar/agentbar/sip"
	"github.com/agentbar/agentbar/wasm/core"
)

// app is the bar: the model, the two channels, the listeners of
// window.agentbar and the page.
type app struct {
	log  *slog.Logger
	ui   *ui
	ring *ringer

	mu        sync.Mutex
	model     core.Model
	lang      core.Lang
	msgs      map[string]string
	token     string
	expiry    core.Expiry // of token
	ch        *channel
	ph        *phone
	lastStats callStats
	aor       string // the soft phone's address of record
	forcedOut bool   // the server signed the agent out for good (elsewhere, lost)
	// over is the code of a renewal refused for good (session_over,
	// unauthorized): when the channel then closes, the bar asks the
	// agent to sign in again with the matching message.
	over      string
	micID     string
	speakerID string
	// micGranted: the page may use the microphone (the Permissions API
	// says so, or it opened one): a call's peer connection can then be
	// set up while the microphone opens (see newMedia).
	micGranted bool
	listeners  map[string][]js.Value
	lastErr    string
	// saving: the session is kept in sessionStorage (savedKey, seqKey)
	// for a reload to resume; saved is what was written there (with the
	// token, renewed on token_expiring) and savedSeq the seq last written.
	saving   bool
	saved    core.Saved
	savedSeq uint64
	// figuresKick asks the figures poller for get_stats now (a call ended).
	figuresKick chan struct{}
	// renderQueued: a render is waiting for the next animation frame
	// (renderFn, made once in main).
	renderQueued bool
	renderFn     js.Func
}

// The tab's sessionStorage keys: the session token (core.Saved) and the
// last event seq. Both are removed at sign-out.
const (
	savedKey = "agentbar.session"
	seqKey   = "agentbar.seq"
)

func newApp(log *slog.Logger) *app {
	a := &app{log: log, listeners: map[string][]js.Value{}, figuresKick: make(chan struct{}, 1)}
	a.lang = core.ParseLang(js.Global().Get("navigator").Get("language").String())
	if saved := localGet("agentbar.lang"); saved != "" {
		a.lang = core.ParseLang(saved)
	}
	a.msgs = core.Messages(a.lang)
	a.ring = newRinger()
	return a
}

// ---- listeners ----

// on registers fn for an event type; "*" receives every event.
func (a *app) on(typ string, fn js.Value) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.listeners[typ] = append(a.listeners[typ], fn)
}

// emit calls the listeners of typ with payload (a Go value or a js.Value);
// a listener that throws is logged and the others still run.
func (a *app) emit(typ string, payload any) {
	a.mu.Lock()
	fns := append([]js.Value(nil), a.listeners[typ]...)
	fns = append(fns, a.listeners["*"]...)
	a.mu.Unlock()
	if len(fns) == 0 {
		return
	}
	v := toJS(payload)
	for _, fn := range fns {
		if err := call(func() { fn.Invoke(v, typ) }); err != nil {
			a.log.Warn("agentbar: listener threw", "event", typ, "err", err)
		}
	}
}

// fail reports an error to listeners and the page, and returns it.
func (a *app) fail(op string, err error) error {
	a.emit("error", map[string]string{"op": op, "code": codeOf(err), "message": messageOf(err)})
	a.mu.Lock()
	a.lastErr = a.errorText(err)
	a.mu.Unlock()
	a.render()
	return err
}

// messageOf is err's human message, without the code.
func messageOf(err error) string {
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.Message
	}
	return err.Error()
}

// errorText is the message the page shows: a translated one for known
// codes, else the server's.
func (a *app) errorText(err error) string {
	if s, ok := a.msgs["err."+codeOf(err)]; ok {
		return s
	}
	return err.Error()
}

// ---- sign-in ----

// signIn: POST /v1/session, the control channel, sign_in, the phone.
func (a *app) signIn(ctx context.Context, agent, password string) (any, error) {
	a.mu.Lock()
	busy := a.ch != nil
	a.mu.Unlock()
	if busy {
		return nil, errorf("not_allowed", "already signed in: sign out first")
	}
	a.clearError()
	sess, err := postSession(ctx, agent, password)
	if err != nil {
		return nil, a.fail("signIn", err)
	}
	ch := a.newChannel()
	a.mu.Lock()
	a.token, a.expiry, a.ch, a.forcedOut, a.over = sess.Token, core.Expiry{At: sess.Expires}, ch, false, ""
	a.model = core.Model{Name: sess.Name, Channel: core.LinkConnecting, Phone: core.LinkIdle}
	a.mu.Unlock()
	a.render()
	// The soft phone needs no CTI sign-in, and the session names its
	// address: it connects and sends its first REGISTER while the control
	// channel opens, and answers the registrar's challenge with the
	// credentials the channel hands out once it is up.
	phoneCtx, stopPhone := context.WithCancel(ctx)
	defer stopPhone()
	phoneDone := make(chan error, 1)
	chUp := make(chan struct{})
	early := sess.SIP.URI != "" && sess.SIP.AOR != ""
	if early {
		go func() {
			phoneDone <- a.runPhone(phoneCtx, core.SIPCredentials{SIPAddress: sess.SIP}, func(ctx context.Context) (core.SIPCredentials, error) {
				select {
				case <-chUp:
				case <-ctx.Done():
					return core.SIPCredentials{}, ctx.Err()
				}
				return a.sipCredentials(ctx)
			})
		}()
	}
	err = ch.start(ctx, false)
	close(chUp)
	if err != nil {
		stopPhone()
		if early {
			<-phoneDone
		}
		a.teardown()
		return nil, a.fail("signIn", err)
	}
	if !early {
		go func() { phoneDone <- a.startPhone(phoneCtx) }()
	}
	if err := a.ensureSignedIn(ctx, ch); err != nil {
		stopPhone()
		<-phoneDone
		a.teardown()
		return nil, a.fail("signIn", err)
	}
	a.save(core.Saved{Token: sess.Token, Expires: sess.Expires, Agent: agent, Name: sess.Name})
	go a.pollFigures(ch)
	if err := <-phoneDone; err != nil {
		return nil, a.fail("signIn", err)
	}
	perfMark("agentbar:registered")
	go a.fillDevices()
	return a.state(), nil
}

// newChannel is a control channel wired to the app.
func (a *app) newChannel() *channel {
	ch := newChannel(wsURL("/v1/agent/ws"))
	ch.token = a.currentToken
	// The server closes the channel at the expiry of a token that was not
	// renewed past it: a reconnect must not come back with that token.
	ch.ending = func() bool { a.mu.Lock(); defer a.mu.Unlock(); return a.expiry.Ending }
	ch.resume = func() uint64 { a.mu.Lock(); defer a.mu.Unlock(); return a.model.LastSeq }
	ch.onMsg = a.onMessage
	ch.onLink = a.onLink
	return ch
}

// ensureSignedIn signs the agent in to the CTI unless hello said it is.
func (a *app) ensureSignedIn(ctx context.Context, ch *channel) error {
	a.mu.Lock()
	signedIn := a.model.SignedIn()
	a.mu.Unlock()
	if signedIn {
		return nil
	}
	_, err := ch.do(ctx, core.Command{Op: "sign_in"})
	return err
}

// ---- reload ----

// prepareResume looks for a session this tab saved before a reload and,
// if its token is still good, sets the bar up to resume it (the channel
// connecting, so the page shows no sign-in form). It does no I/O beyond
// sessionStorage; resume does the rest.
func (a *app) prepareResume() bool {
	sv, ok := core.ParseSaved(sessionGet(savedKey))
	if !ok || !sv.Usable(time.Now()) {
		sessionClear()
		return false
	}
	seq := core.ParseSeq(sessionGet(seqKey))
	a.mu.Lock()
	a.token, a.expiry, a.ch, a.forcedOut, a.over = sv.Token, core.Expiry{At: sv.Expires}, a.newChannel(), false, ""
	a.model = core.Model{Name: sv.Name, Channel: core.LinkConnecting, Phone: core.LinkIdle, LastSeq: seq}
	a.saving, a.saved, a.savedSeq = true, sv, seq
	a.mu.Unlock()
	return true
}

// resume brings a reloaded bar back: the control channel with the saved
// resume point (hello's snapshot, then the events after it, replayed),
// sign_in only if the CTI session is gone, new SIP credentials and a new
// registration. The call goes on in the call center; the old page's peer
// connection and SIP dialog are gone, so for a connected call the bar asks
// for reconnect_media: the call center rings the new registration with
// answer-after=0, the phone answers it at once, and the new dialog carries
// the call's audio.
func (a *app) resume(ctx context.Context) error {
	ch := a.channel()
	if ch == nil {
		return nil
	}
	if err := ch.start(ctx, true); err != nil {
		a.teardown()
		return a.fail("resume", err)
	}
	if err := a.ensureSignedIn(ctx, ch); err != nil {
		a.teardown()
		return a.fail("resume", err)
	}
	a.emit("session.resumed", map[string]any{"agent": a.state().Agent, "seq": a.state().Seq})
	go a.pollFigures(ch)
	if err := a.startPhone(ctx); err != nil {
		return a.fail("resume", err)
	}
	a.mu.Lock()
	var callID string
	if c := a.model.Connected(); c != nil {
		callID = c.ID
	}
	a.mu.Unlock()
	if callID != "" {
		if err := a.do(ctx, core.Command{Op: "reconnect_media", CallID: callID}); err != nil {
			a.fail("reconnectMedia", err)
		}
	}
	go a.fillDevices()
	return nil
}

// save keeps the session in the tab's sessionStorage for a reload.
func (a *app) save(sv core.Saved) {
	a.mu.Lock()
	a.saving, a.saved, a.savedSeq = true, sv, a.model.LastSeq
	seq := a.savedSeq
	a.mu.Unlock()
	sessionSet(savedKey, sv.Encode())
	sessionSet(seqKey, strconv.FormatUint(seq, 10))
}

// saveSeq records a new resume point while the session is saved.
func (a *app) saveSeq() {
	a.mu.Lock()
	seq, write := a.model.LastSeq, a.saving && a.model.LastSeq != a.savedSeq
	if write {
		a.savedSeq = seq
	}
	a.mu.Unlock()
	if write {
		sessionSet(seqKey, strconv.FormatUint(seq, 10))
	}
}

// forget removes the saved session: a reload then shows the sign-in form.
func (a *app) forget() {
	a.mu.Lock()
	a.saving, a.saved, a.savedSeq = false, core.Saved{}, 0
	a.mu.Unlock()
	sessionClear()
}

type session struct {
	Token   string          `json:"token"`
	Expires time.Time       `json:"expires"`
	Agent   string          `json:"agent"`
	Name    string          `json:"name"`
	SIP     core.SIPAddress `json:"sip"` // where the phone registers (a server before it may leave it out)
}

// postSession signs in with POST /v1/session. It calls the browser's
// fetch directly: net/http's client would bring its whole native transport
// (dialer, TLS, HTTP/2) into the wasm for this one request.
func postSession(ctx context.Context, agent, password string) (session, error) {
	var s session
	body, _ := json.Marshal(map[string]string{"agent": agent, "password": password})
	res, err := fetchPost(ctx, pageOrigin()+"/v1/session", "application/json", body, 64<<10)
	if err != nil {
		return s, errorf("network", "sign-in: %v", err)
	}
	if res.status != 200 {
		var e core.ErrorBody
		if json.Unmarshal(res.body, &e) != nil || e.Code == "" {
			e = core.ErrorBody{Code: "unavailable", Message: res.statusLine()}
		}
		return s, &codedError{Code: e.Code, Message: e.Message}
	}
	if err := json.Unmarshal(res.body, &s); err != nil || s.Token == "" {
		return s, errorf("internal", "sign-in: bad reply")
	}
	return s, nil
}

func (a *app) currentToken() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.token
}

// startPhone gets SIP credentials and registers the soft phone.
func (a *app) startPhone(ctx context.Context) error {
	cr, err := a.sipCredentials(ctx)
	if err != nil {
		return err
	}
	return a.runPhone(ctx, cr, a.sipCredentials)
}

// runPhone registers the soft phone at cr's address with cr, then with
// credentials from fresh (see startPhone in phone.go).
func (a *app) runPhone(ctx context.Context, cr core.SIPCredentials, fresh func(context.Context) (core.SIPCredentials, error)) error {
	a.mu.Lock()
	a.model.Phone, a.aor = core.LinkConnecting, cr.AOR
	a.mu.Unlock()
	a.render()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	ph, err := startPhone(ctx, cr, phoneHooks{
		token:       a.currentToken,
		credentials: fresh,
		onEvent:     a.onPhoneEvent,
		onIncoming:  a.onIncoming,
	}, a.log)
	if ph != nil {
		a.mu.Lock()
		a.ph = ph
		a.mu.Unlock()
	}
	if err != nil {
		a.setPhone(core.LinkClosed)
		return err
	}
	a.setPhone(core.LinkOpen)
	return nil
}

func (a *app) sipCredentials(ctx context.Context) (core.SIPCredentials, error) {
	ch := a.channel()
	if ch == nil {
		return core.SIPCredentials{}, errorf("not_signed_in", "not signed in")
	}
	r, err := ch.do(ctx, core.Command{Op: "sip_credentials"})
	if err != nil {
		return core.SIPCredentials{}, err
	}
	if r.SIP == nil || r.SIP.URI == "" {
		return core.SIPCredentials{}, errorf("internal", "sip_credentials: no credentials in the reply")
	}
	return *r.SIP, nil
}

func (a *app) channel() *channel {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ch
}

func (a *app) phone() *phone {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ph
}

func (a *app) setPhone(l core.Link) {
	a.mu.Lock()
	a.model.Phone = l
	a.mu.Unlock()
	a.render()
}

// signOut signs the agent out of the CTI, unregisters and closes both channels.
func (a *app) signOut(ctx context.Context) (any, error) {
	ch := a.channel()
	if ch == nil {
		return a.state(), nil
	}
	_, err := ch.do(ctx, core.Command{Op: "sign_out"})
	a.teardown()
	if err != nil && codeOf(err) != "not_signed_in" {
		return nil, a.fail("signOut", err)
	}
	return a.state(), nil
}

// teardown closes the phone and the channel and forgets the session.
func (a *app) teardown() {
	a.mu.Lock()
	ch, ph := a.ch, a.ph
	a.ch, a.ph, a.token = nil, nil, ""
	a.mu.Unlock()
	a.forget()
	if ph != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		ph.close(ctx)
		cancel()
	}
	if ch != nil {
		ch.close()
	}
	a.mu.Lock()
	a.model.Reset()
	a.mu.Unlock()
	a.ring.set(false)
	a.render()
}

// ---- from the control channel ----

func (a *app) onMessage(m core.ServerMessage) {
	now := time.Now()
	switch m.Type {
	case "hello":
		a.mu.Lock()
		reconnect := a.model.Agent != ""
		a.model.Hello(m.Agent, m.Seq, m.Snapshot, m.Reasons, now)
		lost := reconnect && !a.model.SignedIn() && !a.forcedOut
		a.mu.Unlock()
		if lost {
			go a.resignIn()
		}
		a.saveSeq()
		a.emit("hello", map[string]any{"agent": m.Agent, "seq": m.Seq, "snapshot": m.Snapshot, "reasons": m.Reasons})
	case "event":
		var ev core.Event
		if err := json.Unmarshal(m.Event, &ev); err != nil {
			a.log.Warn("agentbar: bad event", "err", err)
			return
		}
		a.mu.Lock()
		out := a.model.Apply(m.Seq, ev, now)
		a.mu.Unlock()
		if out == core.Duplicate {
			return
		}
		a.saveSeq()
		if ev.Type == core.EvNotice {
			switch core.NoticeFor(ev.Code) {
			case core.NoticeRenew:
				a.mu.Lock()
				a.expiry.Warned()
				a.mu.Unlock()
				go a.autoRenew()
			case core.NoticeForcedOut:
				a.mu.Lock()
				a.forcedOut = true
				a.mu.Unlock()
				a.forget() // a reload must not take the session back
			}
		}
		if (ev.Type == core.EvCallEnded || ev.Type == core.EvCallAnswered) && out == core.Folded {
			a.kickFigures() // the agent's figures changed
		}
		payload := js.Global().Get("JSON").Call("parse", string(m.Event))
		if m.Seq != 0 {
			payload.Set("seq", m.Seq)
		}
		if out == core.Replayed {
			payload.Set("replayed", true)
		}
		a.emit(string(ev.Type), payload)
	case "error":
		if m.Error != nil {
			a.emit("error", map[string]string{"op": "channel", "code": m.Error.Code, "message": m.Error.Message})
		}
	}
	a.render()
}

// onLink follows the control channel: channel.open on each (re)open,
// channel.closed when an open channel drops (the bar then reconnects) or
// closes for good.
func (a *app) onLink(state core.Link, code int, reason string) {
	a.mu.Lock()
	prev := a.model.Channel
	a.model.Channel = state
	agent, seq := a.model.Agent, a.model.LastSeq
	a.mu.Unlock()
	if state == core.LinkClosed && code == closeUnauthorized {
		a.forget() // the token is no longer good
		go a.sessionEnded()
	}
	switch {
	case state == core.LinkOpen:
		a.emit("channel.open", map[string]any{"agent": agent, "seq": seq})
	case prev == core.LinkOpen || (state == core.LinkClosed && prev != core.LinkClosed):
		a.emit("channel.closed", map[string]any{"code": code, "reason": reason, "reconnecting": state != core.LinkClosed})
	}
	a.render()
}

// renewToken asks the server for a fresh session token (renew_token,
// no password), which becomes the channel's token; the bar then uses it
// for reconnects of both channels and keeps it for a reload. A refusal
// for good (session_over) is shown, and when the channel closes at the
// old token's expiry the bar asks the agent to sign in again.
func (a *app) renewToken(ctx context.Context) (any, error) {
	ch := a.channel()
	if ch == nil {
		return nil, a.fail("renewToken", errorf("not_signed_in", "not signed in"))
	}
	a.mu.Lock()
	a.expiry.Begin()
	a.mu.Unlock()
	r, err := ch.do(ctx, core.Command{Op: "renew_token"})
	if err == nil && (r.Token == "" || r.Expires == nil) {
		err = errorf("internal", "renew_token: no token in the reply")
	}
	if err != nil {
		a.mu.Lock()
		a.expiry.Failed()
		if code := codeOf(err); core.SessionOver(code) {
			a.over = code
		}
		a.mu.Unlock()
		return nil, a.fail("renewToken", err)
	}
	a.useToken(r.Token, *r.Expires)
	a.log.Info("agentbar: session token renewed", "expires", r.Expires.Format(time.RFC3339))
	return map[string]any{"expires": r.Expires}, nil
}

// autoRenew renews the token after token_expiring, trying again twice,
// 10 s apart, after a failure that may pass (not session_over, nor a
// proxy that does not renew: then a host page may hand one, setToken).
func (a *app) autoRenew() {
	for try := 0; try < 3; try++ {
		if try > 0 {
			time.Sleep(10 * time.Second)
		}
		ch := a.channel()
		if ch == nil || ch.ctx.Err() != nil {
			return
		}
		_, err := a.renewToken(context.Background())
		if code := codeOf(err); err == nil || core.SessionOver(code) || code == "unsupported" {
			return
		}
	}
}

// setToken hands the open channel a fresh token from the host page
// ({"type":"token"}, same agent only); the bar uses it from then on.
func (a *app) setToken(ctx context.Context, tok string) (any, error) {
	ch := a.channel()
	if ch == nil {
		return nil, a.fail("setToken", errorf("not_signed_in", "not signed in"))
	}
	a.mu.Lock()
	a.expiry.Begin()
	a.mu.Unlock()
	r, err := ch.do(ctx, core.Command{Type: "token", Token: tok})
	if err == nil && r.Expires == nil {
		err = errorf("internal", "token: no expiry in the reply")
	}
	if err != nil {
		a.mu.Lock()
		a.expiry.Failed()
		a.mu.Unlock()
		return nil, a.fail("setToken", err)
	}
	a.mu.Lock()
	a.over = "" // a token from the host carries the session on
	a.mu.Unlock()
	a.useToken(tok, *r.Expires)
	return map[string]any{"expires": r.Expires}, nil
}

// useToken makes tok the session token: for the control channel's
// reconnects, the SIP edge's next connection (its subprotocol) and, while
// the session is saved, a reload.
func (a *app) useToken(tok string, exp time.Time) {
	a.mu.Lock()
	a.token = tok
	a.expiry.Renewed(exp)
	saving, sv := a.saving, a.saved.Renewed(tok, exp)
	if saving {
		a.saved = sv
	}
	a.mu.Unlock()
	if saving {
		sessionSet(savedKey, sv.Encode())
	}
}

// sessionEnded follows a channel closed for good because its token is no
// longer accepted (expired, past auth.max_session): the bar says so and
// goes back to the sign-in form, once the phone's call (if any) is over.
func (a *app) sessionEnded() {
	a.mu.Lock()
	code, ch := a.over, a.ch
	a.mu.Unlock()
	if ch == nil {
		return
	}
	if code == "" {
		code = "unauthorized"
	}
	a.fail("session", errorf(code, "the session is over: sign in again"))
	for {
		ph := a.phone()
		if ph == nil || (ph.Call() == nil && ph.Ringing() == nil) {
			break
		}
		time.Sleep(time.Second)
	}
	if a.channel() == ch {
		a.teardown()
	}
}

// ---- figures ----

// pollFigures keeps the statistics strip current while ch is open: at
// once, every core.FiguresEvery and when a call is answered or ends. It
// stops with the channel, or for good when the server has no statistics
// (unsupported).
func (a *app) pollFigures(ch *channel) {
	t := time.NewTicker(core.FiguresEvery)
	defer t.Stop()
	for a.askFigures(ch) {
		select {
		case <-ch.ctx.Done():
			return
		case <-t.C:
		case <-a.figuresKick:
		}
	}
}

// askFigures sends one get_stats; false once the server said unsupported.
// Other failures (the channel reconnecting) wait for the next turn.
func (a *app) askFigures(ch *channel) bool {
	a.mu.Lock()
	off := a.model.FiguresOff
	a.mu.Unlock()
	if off {
		return false
	}
	r, err := ch.do(ch.ctx, core.Command{Op: "get_stats"})
	switch {
	case err == nil && r.Stats != nil:
		a.mu.Lock()
		a.model.SetFigures(r.Stats, time.Now())
		a.mu.Unlock()
		a.emit("stats", r.Stats)
		a.render()
	case codeOf(err) == "unsupported":
		a.mu.Lock()
		a.model.FiguresUnsupported()
		a.mu.Unlock()
		a.render()
		return false
	}
	return true
}

// kickFigures asks the poller for figures now.
func (a *app) kickFigures() {
	select {
	case a.figuresKick <- struct{}{}:
	default:
	}
}

// figures is the latest get_stats reply, or null.
func (a *app) figures() any {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.model.Figures == nil || a.model.FiguresOff {
		return js.Null()
	}
	return *a.model.Figures
}

// resignIn signs the agent in again after a reconnect found the CTI
// session gone (a server restart), unless the agent was signed out on
// purpose or signed in elsewhere. The agent comes back not ready.
func (a *app) resignIn() {
	ch := a.channel()
	if ch == nil {
		return
	}
	if _, err := ch.do(context.Background(), core.Command{Op: "sign_in"}); err != nil {
		a.fail("signIn", err)
		return
	}
	a.emit("session.restored", map[string]any{"agent": a.state().Agent})
}

// ---- from the phone ----

func (a *app) onIncoming(ph *phone, c *sip.Call) {
	info := map[string]any{
		"sipCallId": c.ID(),
		"id":        c.Header("X-Agentbar-Call-ID"),
		"caller":    firstNonEmpty(c.Header("X-Agentbar-Caller"), c.RemoteName(), c.Remote()),
		"queue":     c.Header("X-Agentbar-Queue"),
		"direction": c.Header("X-Agentbar-Direction"),
	}
	// The call center asks the phone to answer at once for a call the
	// agent placed (click to dial): Call-Info answer-after=0.
	if ci := c.Header("Call-Info"); strings.Contains(ci, "answer-after=0") {
		info["autoAnswer"] = true
		a.emit("phone.incoming", info)
		go func() {
			if err := a.answerSIP(context.Background(), c); err != nil {
				a.fail("dial", err)
			}
		}()
		return
	}
	a.mu.Lock()
	a.model.PhoneRinging = true
	a.mu.Unlock()
	// The media is made while the call rings and answers the offer early
	// (183): ICE and DTLS are done by the time the agent answers, and the
	// microphone stays silent until then.
	ph.prepare(c, func(ctx context.Context) (*media, error) {
		m, err := a.callMedia(ctx)
		if err == nil {
			m.Mute(true)
		}
		return m, err
	})
	a.emit("phone.incoming", info)
	a.render()
}

func (a *app) onPhoneEvent(e sip.Event) {
	switch e.Kind {
	case sip.EventRegistered:
		a.mu.Lock()
		a.model.Phone = core.LinkOpen
		a.mu.Unlock()
		a.mu.Lock()
		aor := a.aor
		a.mu.Unlock()
		a.emit("phone.registered", map[string]any{"aor": aor, "expires": e.Expires.Seconds()})
	case sip.EventRegistrationFailed, sip.EventDisconnected, sip.EventUnregistered:
		a.mu.Lock()
		was := a.model.Phone
		if e.Kind == sip.EventUnregistered {
			a.model.Phone = core.LinkClosed
		} else if was == core.LinkOpen {
			a.model.Phone = core.LinkConnecting
		}
		a.mu.Unlock()
		if was == core.LinkOpen || e.Kind == sip.EventUnregistered {
			a.emit("phone.unregistered", map[string]any{"reason": e.Kind.String(), "error": errText(e.Err)})
		}
	case sip.EventConnected:
	case sip.EventCallAnswered, sip.EventCallEnded:
		ph := a.phone()
		a.mu.Lock()
		a.model.PhoneRinging = ph != nil && ph.Ringing() != nil
		a.mu.Unlock()
		if e.Kind == sip.EventCallEnded {
			a.emit("phone.ended", map[string]any{"sipCallId": e.Call.ID(), "cause": string(e.Cause), "code": e.Code})
		}
	}
	a.render()
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// ---- commands ----

// do sends a CTI command.
func (a *app) do(ctx context.Context, cmd core.Command) error {
	ch := a.channel()
	if ch == nil {
		return errorf("not_signed_in", "not signed in")
	}
	_, err := ch.do(ctx, cmd)
	return err
}

// simple runs one CTI command for the API and reports a refusal. The
// reply comes before the events it causes, so it waits a moment for the
// next event: the state it resolves with usually shows the outcome.
func (a *app) simple(ctx context.Context, api string, cmd core.Command) (any, error) {
	a.mu.Lock()
	before := a.model.LastSeq
	a.mu.Unlock()
	if err := a.do(ctx, cmd); err != nil {
		return nil, a.fail(api, err)
	}
	a.waitModel(time.Second, func(m *core.Model) bool { return m.LastSeq > before })
	return a.state(), nil
}

func (a *app) setNotReady(ctx context.Context, reason string) (any, error) {
	a.mu.Lock()
	op := a.model.NotReadyOp(reason)
	a.mu.Unlock()
	return a.simple(ctx, "setNotReady", core.Command{Op: op, Reason: reason})
}

// answer answers both ways: the CTI's answer and the phone's 200 OK.
func (a *app) answer(ctx context.Context) (any, error) {
	a.mu.Lock()
	cur := a.model.Current()
	ctiRinging := cur != nil && cur.State == core.CallRinging
	a.mu.Unlock()
	ph := a.phone()
	if ph == nil {
		return nil, a.fail("answer", errorf("phone", "the soft phone is not registered"))
	}
	if ctiRinging {
		if err := a.do(ctx, core.Command{Op: "answer"}); err != nil {
			return nil, a.fail("answer", err)
		}
	}
	c := ph.waitRinging(ctx, 10*time.Second)
	if c == nil {
		return nil, a.fail("answer", errorf("no_call", "no call is ringing on the phone"))
	}
	if err := a.answerSIP(ctx, c); err != nil {
		return nil, a.fail("answer", err)
	}
	if ctiRinging {
		// Resolve once the call center has seen the 200 (call.answered).
		a.waitModel(3*time.Second, func(m *core.Model) bool {
			c := m.Current()
			return c == nil || c.State != core.CallRinging
		})
	}
	return a.state(), nil
}

// waitModel waits up to d for the model to satisfy ok.
func (a *app) waitModel(d time.Duration, ok func(*core.Model) bool) bool {
	deadline := time.Now().Add(d)
	for {
		a.mu.Lock()
		done := ok(&a.model)
		a.mu.Unlock()
		if done || time.Now().After(deadline) {
			return done
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// callMedia is new media for a call: the chosen microphone, the far end
// into the page's audio element.
func (a *app) callMedia(ctx context.Context) (*media, error) {
	a.mu.Lock()
	mic, granted := a.micID, a.micGranted
	a.mu.Unlock()
	m, err := newMedia(ctx, mic, !granted, a.ui.audio(), a.onPlay)
	if err == nil && !granted {
		a.mu.Lock()
		a.micGranted = true // newMedia opened the microphone first
		a.mu.Unlock()
	}
	return m, err
}

// answerSIP answers an INVITE with the media prepared while it rang
// (early media), or with fresh media when there is none.
func (a *app) answerSIP(ctx context.Context, c *sip.Call) error {
	ph := a.phone()
	if ph == nil {
		return errorf("phone", "the soft phone is not registered")
	}
	a.ring.set(false)
	err := ph.answer(ctx, c, a.callMedia, func(ctx context.Context, m *media) error {
		if err := m.micReady(ctx); err != nil {
			return err
		}
		a.mu.Lock()
		mic, muted := a.micID, false
		if cur := a.model.Current(); cur != nil {
			muted = cur.Muted
		}
		a.mu.Unlock()
		if mic != m.device {
			// another microphone was chosen while the call rang
			if err := m.UseMicrophone(mic); err != nil {
				a.log.Warn("agentbar: microphone", "err", err)
			}
		}
		m.Mute(muted)
		a.applySpeaker()
		return nil
	})
	a.mu.Lock()
	a.model.PhoneRinging = ph.Ringing() != nil
	a.mu.Unlock()
	a.render()
	return err
}

// onPlay learns whether the far end's audio plays; a browser that blocks
// autoplay gets the "enable audio" button.
func (a *app) onPlay(err error) {
	if isAutoplayBlock(err) {
		a.ui.showEnableAudio(true)
	}
}

// reject refuses the ringing call: through the CTI, which cancels the
// INVITE, or on the phone alone when the CTI has no such call.
func (a *app) reject(ctx context.Context) (any, error) {
	a.mu.Lock()
	cur := a.model.Current()
	ctiRinging := cur != nil && cur.State == core.CallRinging
	a.mu.Unlock()
	a.ring.set(false)
	if ctiRinging {
		return a.simple(ctx, "reject", core.Command{Op: "reject"})
	}
	if ph := a.phone(); ph != nil {
		if c := ph.Ringing(); c != nil {
			if err := c.Reject(603, "Decline"); err != nil {
				return nil, a.fail("reject", errorf("phone", "%v", err))
			}
			return a.state(), nil
		}
	}
	return nil, a.fail("reject", errorf("no_call", "no call is ringing"))
}

// hangup ends the call through the CTI (the call center sends BYE); a
// call the CTI does not know is hung up on the phone.
func (a *app) hangup(ctx context.Context) (any, error) {
	a.mu.Lock()
	hasCTI := a.model.Current() != nil
	a.mu.Unlock()
	if hasCTI {
		return a.simple(ctx, "hangup", core.Command{Op: "hangup"})
	}
	if ph := a.phone(); ph != nil {
		if c := firstCall(ph.Call(), ph.Ringing()); c != nil {
			if err := c.Hangup(ctx); err != nil {
				return nil, a.fail("hangup", errorf("phone", "%v", err))
			}
			return a.state(), nil
		}
	}
	return nil, a.fail("hangup", errorf("no_call", "there is no call"))
}

func firstCall(cs ...*sip.Call) *sip.Call {
	for _, c := range cs {
		if c != nil {
			return c
		}
	}
	return nil
}

// mute silences the microphone locally and tells the CTI.
func (a *app) mute(ctx context.Context, on bool) (any, error) {
	if ph := a.phone(); ph != nil {
		if m := ph.Media(); m != nil {
			m.Mute(on)
		}
	}
	op, api := "unmute", "unmute"
	if on {
		op, api = "mute", "mute"
	}
	a.mu.Lock()
	hasCTI := a.model.Current() != nil
	a.mu.Unlock()
	if !hasCTI {
		return a.state(), nil
	}
	return a.simple(ctx, api, core.Command{Op: op})
}

// sendDTMF plays digits in band through RTCDTMFSender, or asks the CTI to
// send them when the media cannot.
func (a *app) sendDTMF(ctx context.Context, digits string) (any, error) {
	digits = strings.ToUpper(strings.TrimSpace(digits))
	if !core.ValidDigits(digits) {
		return nil, a.fail("sendDTMF", errorf("bad_request", "digits must be 0-9, *, #, A-D"))
	}
	if ph := a.phone(); ph != nil {
		if m := ph.Media(); m != nil && m.SendDTMF(digits) {
			return map[string]any{"digits": digits, "via": "rtp"}, nil
		}
	}
	if err := a.do(ctx, core.Command{Op: "dtmf", Digits: digits}); err != nil {
		return nil, a.fail("sendDTMF", err)
	}
	return map[string]any{"digits": digits, "via": "cti"}, nil
}

// parseTarget reads a dial/transfer target: {kind, id} or a string, which
// is a number unless prefixed "agent:" or "queue:".
func parseTarget(v js.Value) (core.Target, error) {
	switch v.Type() {
	case js.TypeString:
		s := strings.TrimSpace(v.String())
		for _, k := range []string{"agent", "queue", "number"} {
			if id, ok := strings.CutPrefix(s, k+":"); ok {
				return core.Target{Kind: gateway.TargetKind(k), ID: id}, nil
			}
		}
		if s == "" {
			break
		}
		return core.Target{Kind: "number", ID: s}, nil
	case js.TypeObject:
		t := core.Target{Kind: gateway.TargetKind(str(v, "kind")), ID: str(v, "id")}
		if t.Kind == "" {
			t.Kind = "number"
		}
		if t.ID != "" && (t.Kind == "agent" || t.Kind == "queue" || t.Kind == "number") {
			return t, nil
		}
	}
	return core.Target{}, errorf("bad_request", "a target is {kind: agent|queue|number, id}")
}

// ---- state ----

// barState is what agentbar.state() returns.
type barState struct {
	Agent   string        `json:"agent"`
	Name    string        `json:"name,omitempty"`
	State   string        `json:"state"`
	Reason  string        `json:"reason"`
	Call    *barCall      `json:"call"`
	Channel string        `json:"channel"`
	Phone   string        `json:"phone"`
	Allowed []string      `json:"allowed"`
	Seq     uint64        `json:"seq"`
	Reasons []core.Reason `json:"reasons"`
}

type barCall struct {
	ID        string            `json:"id"`
	Caller    string            `json:"caller"`
	Callee    string            `json:"callee,omitempty"`
	Direction string            `json:"direction,omitempty"`
	Queue     string            `json:"queue"`
	Data      map[string]string `json:"data"`
	State     string            `json:"state"`
	Muted     bool              `json:"muted"`
}

func (a *app) state() barState {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := &a.model
	st := string(m.State)
	if st == "" {
		st = string(core.StateSignedOut)
	}
	s := barState{
		Agent: m.Agent, Name: m.Name, State: st, Reason: m.Reason,
		Channel: channelName(m.Channel), Phone: phoneName(m.Phone),
		Allowed: m.Allowed().Names(), Seq: m.LastSeq, Reasons: m.Reasons,
	}
	if s.Allowed == nil {
		s.Allowed = []string{}
	}
	if c := m.Current(); c != nil {
		s.Call = &barCall{ID: c.ID, Caller: c.Caller, Callee: c.Callee, Direction: c.Direction, Queue: c.Queue, Data: c.Data, State: c.State, Muted: c.Muted}
	}
	return s
}

func channelName(l core.Link) string {
	switch l {
	case core.LinkOpen:
		return "open"
	case core.LinkConnecting:
		return "connecting"
	}
	return "closed"
}

func phoneName(l core.Link) string {
	switch l {
	case core.LinkOpen:
		return "registered"
	case core.LinkConnecting:
		return "registering"
	}
	return "unregistered"
}

// stats is the latest getStats sample of the current (or last) call.
func (a *app) stats() callStats {
	if ph := a.phone(); ph != nil {
		if m := ph.Media(); m != nil {
			s := m.Stats()
			a.mu.Lock()
			a.lastStats = s
			a.mu.Unlock()
			return s
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lastStats
}

func (a *app) clearError() {
	a.mu.Lock()
	a.lastErr = ""
	a.mu.Unlock()
}

// ---- page helpers ----

func pageOrigin() string { return js.Global().Get("location").Get("origin").String() }

// wsURL is the WebSocket URL of path on the page's own server.
func wsURL(path string) string {
	o := pageOrigin()
	if rest, ok := strings.CutPrefix(o, "https"); ok {
		return "wss" + rest + path
	}
	return "ws" + strings.TrimPrefix(o, "http") + path
}

func localGet(key string) string {
	var v string
	_ = call(func() {
		s := js.Global().Get("localStorage")
		if s.Truthy() {
			if x := s.Call("getItem", key); x.Type() == js.TypeString {
				v = x.String()
			}
		}
	})
	return v
}

// sessionGet, sessionSet and sessionClear use the tab's sessionStorage
// (it survives a reload, not the tab); a page without it saves nothing.
func sessionGet(key string) string {
	var v string
	_ = call(func() {
		s := js.Global().Get("sessionStorage")
		if s.Truthy() {
			if x := s.Call("getItem", key); x.Type() == js.TypeString {
				v = x.String()
			}
		}
	})
	return v
}

func sessionSet(key, value string) {
	_ = call(func() {
		if s := js.Global().Get("sessionStorage"); s.Truthy() {
			s.Call("setItem", key, value)
		}
	})
}

func sessionClear() {
	_ = call(func() {
		if s := js.Global().Get("sessionStorage"); s.Truthy() {
			s.Call("removeItem", savedKey)
			s.Call("removeItem", seqKey)
		}
	})
}

func localSet(key, value string) {
	_ = call(func() {
		if s := js.Global().Get("localStorage"); s.Truthy() {
			s.Call("setItem", key, value)
		}
	})
}
