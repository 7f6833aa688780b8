//go:build js && wasm

// Command bar is the agent bar in the browser: Go compiled to
// WebAssembly, loaded by web/static/bar.js. It renders the bar into the
// page, runs the control channel and the SIP soft phone with WebRTC
// audio, and installs the JavaScript API window.agentbar for host pages
// and tests (then sets window.agentbarReady = true).
//
// Its only package-level state is what syscall/js forces: the functions
// installed on window.agentbar stay referenced by JavaScript for the
// page's lifetime (they are created in main and never released).
package main

import (
	"context"
	"log/slog"
	"strings"
	"syscall/js"
	"time"

	"github.com/agentbar/agentbar/wasm/core"
)

func main() {
	log := slog.New(newConsoleHandler(slog.LevelInfo))
	a := newApp(log)
	a.ui = newUI()
	a.renderFn = js.FuncOf(func(js.Value, []js.Value) any { a.renderNow(); return nil })
	a.ring.onBlocked = func() { a.ui.showEnableAudio(true) }
	a.wireDOM()
	a.ui.translate(a.lang, a.msgs)
	// A reload of a signed-in tab resumes its session (saved in
	// sessionStorage) instead of showing the sign-in form.
	resuming := a.prepareResume()
	api := a.installAPI()
	js.Global().Set("agentbar", api)
	perfMark("agentbar:ready")
	js.Global().Set("agentbarReady", true)
	a.render()
	js.Global().Call("dispatchEvent", js.Global().Get("CustomEvent").New("agentbar:ready"))
	if resuming {
		go a.resume(context.Background())
	}
	for range time.Tick(tick) {
		a.render()
	}
}

// installAPI builds window.agentbar.
func (a *app) installAPI() js.Value {
	api := js.Global().Get("Object").New()
	bg := context.Background()
	method := func(name string, fn func(args []js.Value) (any, error)) {
		api.Set(name, js.FuncOf(func(_ js.Value, args []js.Value) any {
			return promise(func() (any, error) { return fn(args) })
		}))
	}
	ctl := func(name, op string) {
		method(name, func([]js.Value) (any, error) { return a.simple(bg, name, core.Command{Op: op}) })
	}
	api.Set("on", js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) >= 2 && args[0].Type() == js.TypeString && args[1].Type() == js.TypeFunction {
			a.on(args[0].String(), args[1])
		}
		return nil
	}))
	api.Set("state", js.FuncOf(func(js.Value, []js.Value) any { return toJS(a.state()) }))
	method("stats", func([]js.Value) (any, error) { return a.stats(), nil })
	method("figures", func([]js.Value) (any, error) { return a.figures(), nil })
	method("renewToken", func([]js.Value) (any, error) { return a.renewToken(bg) })
	method("setToken", func(args []js.Value) (any, error) {
		if len(args) < 1 || args[0].Type() != js.TypeString || args[0].String() == "" {
			return nil, a.fail("setToken", errorf("bad_request", "setToken(token): a JWT"))
		}
		return a.setToken(bg, args[0].String())
	})
	method("signIn", func(args []js.Value) (any, error) {
		if len(args) < 2 || args[0].Type() != js.TypeString || args[1].Type() != js.TypeString {
			return nil, errorf("bad_request", "signIn(agent, password)")
		}
		return a.signIn(bg, args[0].String(), args[1].String())
	})
	method("signOut", func([]js.Value) (any, error) { return a.signOut(bg) })
	ctl("setReady", "ready")
	method("setNotReady", func(args []js.Value) (any, error) {
		reason := ""
		if len(args) > 0 && args[0].Type() == js.TypeString {
			reason = args[0].String()
		}
		if reason == "" {
			return nil, a.fail("setNotReady", errorf("bad_request", "setNotReady(reason): a reason code"))
		}
		return a.setNotReady(bg, reason)
	})
	method("answer", func([]js.Value) (any, error) { return a.answer(bg) })
	method("reject", func([]js.Value) (any, error) { return a.reject(bg) })
	method("hangup", func([]js.Value) (any, error) { return a.hangup(bg) })
	ctl("hold", "hold")
	ctl("resume", "resume")
	method("mute", func([]js.Value) (any, error) { return a.mute(bg, true) })
	method("unmute", func([]js.Value) (any, error) { return a.mute(bg, false) })
	method("sendDTMF", func(args []js.Value) (any, error) {
		if len(args) < 1 || args[0].Type() != js.TypeString {
			return nil, a.fail("sendDTMF", errorf("bad_request", "sendDTMF(digits)"))
		}
		return a.sendDTMF(bg, args[0].String())
	})
	target := func(name, op string) {
		method(name, func(args []js.Value) (any, error) {
			t, err := parseTarget(arg0(args))
			if err != nil {
				return nil, a.fail(name, err)
			}
			return a.simple(bg, name, core.Command{Op: op, Target: &t})
		})
	}
	target("dial", "dial")
	target("transfer", "transfer")
	target("consult", "consult")
	ctl("completeTransfer", "complete_transfer")
	ctl("cancelConsult", "cancel_consult")
	ctl("conference", "conference")
	ctl("completeWrapUp", "wrap_up_done")
	method("setLanguage", func(args []js.Value) (any, error) {
		if len(args) > 0 && args[0].Type() == js.TypeString {
			a.setLang(core.ParseLang(args[0].String()))
		}
		return string(a.lang), nil
	})
	return api
}

// render refreshes the page from the model: the ringtone at once, the
// DOM in the next animation frame. Go in wasm runs a goroutine until it
// blocks, so rendering synchronously for each control-channel event would
// hold back whatever the browser has queued behind it (the SIP INVITE
// that comes with call.incoming); the frame also coalesces the renders of
// a burst of events into one. A hidden page, where animation frames stop,
// renders from a timer instead.
func (a *app) render() {
	if a.ui == nil {
		return
	}
	a.mu.Lock()
	cur := a.model.Current()
	ringing := a.model.PhoneRinging || (cur != nil && cur.State == core.CallRinging && cur.Direction != "outbound")
	queued := a.renderQueued
	a.renderQueued = true
	a.mu.Unlock()
	a.ring.set(ringing)
	if queued {
		return
	}
	if call(func() {
		if js.Global().Get("document").Get("hidden").Bool() {
			js.Global().Call("setTimeout", a.renderFn, 0)
		} else {
			js.Global().Call("requestAnimationFrame", a.renderFn)
		}
	}) != nil {
		a.renderNow()
	}
}

// renderNow renders the page from the model (in an animation frame).
func (a *app) renderNow() {
	now := time.Now()
	a.mu.Lock()
	a.renderQueued = false
	v := a.model.View(a.msgs, now)
	msgs, ch, ph, errText := a.msgs, a.model.Channel, a.model.Phone, a.lastErr
	cur := a.model.Current()
	ringing := a.model.PhoneRinging || (cur != nil && cur.State == core.CallRinging && cur.Direction != "outbound")
	a.mu.Unlock()
	mos := 0.0
	if v.Call != nil {
		mos = a.stats().MOS
	}
	a.ring.set(ringing)
	_ = call(func() { a.ui.render(v, msgs, ch, ph, errText, mos, ringing) })
}

func (a *app) setLang(l core.Lang) {
	a.mu.Lock()
	a.lang, a.msgs = l, core.Messages(l)
	msgs := a.msgs
	a.mu.Unlock()
	localSet("agentbar.lang", string(l))
	a.ui.translate(l, msgs)
	a.render()
}

// wireDOM connects the page's controls to the bar.
func (a *app) wireDOM() {
	u := a.ui
	bg := context.Background()
	run := func(fn func() (any, error)) {
		go func() {
			if _, err := safely(fn); err == nil {
				a.clearError()
				a.render()
			}
		}()
	}
	u.listen(u.get("signin"), "submit", func(ev js.Value) {
		ev.Call("preventDefault")
		agent := u.get("signin-agent").Get("value").String()
		pw := u.get("signin-password").Get("value").String()
		u.get("signin-password").Set("value", "")
		run(func() (any, error) { return a.signIn(bg, strings.TrimSpace(agent), pw) })
	})
	u.listen(u.get("lang"), "change", func(ev js.Value) {
		a.setLang(core.ParseLang(ev.Get("target").Get("value").String()))
	})
	u.listen(u.get("enable-audio"), "click", func(js.Value) {
		a.ring.unlock()
		if au := u.audio(); au.Truthy() {
			_ = call(func() { au.Call("play") })
		}
		u.showEnableAudio(false)
	})
	u.listen(u.get("bar"), "click", func(ev js.Value) {
		b := ev.Get("target").Call("closest", "button")
		if !b.Truthy() || b.Get("disabled").Bool() {
			return
		}
		if d := b.Get("dataset").Get("digit"); d.Type() == js.TypeString {
			digits := d.String()
			run(func() (any, error) { return a.sendDTMF(bg, digits) })
			return
		}
		if c := b.Get("dataset").Get("ctl"); c.Type() == js.TypeString {
			name := c.String()
			run(func() (any, error) { return a.control(bg, name) })
		}
	})
	u.listen(u.get("mic"), "change", func(ev js.Value) {
		id := ev.Get("target").Get("value").String()
		a.mu.Lock()
		a.micID = id
		a.mu.Unlock()
		go func() {
			if ph := a.phone(); ph != nil {
				if m := ph.Media(); m != nil {
					if err := m.UseMicrophone(id); err != nil {
						a.fail("microphone", err)
					}
				}
			}
		}()
	})
	u.listen(u.get("speaker"), "change", func(ev js.Value) {
		a.mu.Lock()
		a.speakerID = ev.Get("target").Get("value").String()
		a.mu.Unlock()
		go a.applySpeaker()
	})
	u.listen(js.Global().Get("document"), "keydown", func(ev js.Value) {
		if !ev.Get("altKey").Bool() || ev.Get("ctrlKey").Bool() || ev.Get("metaKey").Bool() {
			return
		}
		name := shortcut(strings.ToLower(ev.Get("key").String()), a.state().Allowed)
		if name == "" {
			return
		}
		ev.Call("preventDefault")
		if name == "focus-target" {
			u.get("target").Call("focus")
			return
		}
		run(func() (any, error) { return a.control(bg, name) })
	})
	u.listen(js.Global().Get("navigator").Get("mediaDevices"), "devicechange", func(js.Value) { go a.fillDevices() })
}

// shortcut maps Alt+key to a control, picking the allowed one of a toggle.
func shortcut(key string, allowed []string) string {
	has := func(n string) bool {
		for _, x := range allowed {
			if x == n {
				return true
			}
		}
		return false
	}
	pick := func(names ...string) string {
		for _, n := range names {
			if has(n) {
				return n
			}
		}
		return ""
	}
	switch key {
	case "a":
		return pick("answer")
	case "x":
		return pick("reject")
	case "h":
		return pick("hangup")
	case "o":
		return pick("hold", "resume")
	case "m":
		return pick("mute", "unmute")
	case "y":
		return pick("ready")
	case "n":
		return pick("not_ready")
	case "w":
		return pick("wrap_up_done")
	case "t":
		return pick("transfer")
	case "d":
		return "focus-target"
	}
	return ""
}

// control carries out a button of the page.
func (a *app) control(ctx context.Context, name string) (any, error) {
	u := a.ui
	target := func() js.Value {
		o := js.Global().Get("Object").New()
		o.Set("kind", u.get("target-kind").Get("value"))
		o.Set("id", strings.TrimSpace(u.get("target").Get("value").String()))
		return o
	}
	switch name {
	case "ready":
		return a.simple(ctx, "setReady", core.Command{Op: "ready"})
	case "not_ready":
		return a.setNotReady(ctx, u.get("reason").Get("value").String())
	case "answer":
		a.ring.unlock() // a click is the gesture that lets audio play
		return a.answer(ctx)
	case "reject":
		return a.reject(ctx)
	case "hangup":
		return a.hangup(ctx)
	case "mute", "unmute":
		return a.mute(ctx, name == "mute")
	case "sign_out":
		return a.signOut(ctx)
	case "dial", "transfer", "consult":
		t, err := parseTarget(target())
		if err != nil {
			return nil, a.fail(name, err)
		}
		return a.simple(ctx, name, core.Command{Op: name, Target: &t})
	}
	return a.simple(ctx, name, core.Command{Op: name})
}

// fillDevices lists the audio devices in the device selectors, and
// learns whether the page may use the microphone already.
func (a *app) fillDevices() {
	if perms := js.Global().Get("navigator").Get("permissions"); perms.Truthy() && perms.Get("query").Truthy() {
		var p js.Value
		if call(func() { p = perms.Call("query", map[string]any{"name": "microphone"}) }) == nil {
			if st, err := await(p); err == nil && str(st, "state") == "granted" {
				a.mu.Lock()
				a.micGranted = true
				a.mu.Unlock()
			}
		}
	}
	md := js.Global().Get("navigator").Get("mediaDevices")
	if !md.Truthy() || !md.Get("enumerateDevices").Truthy() {
		return
	}
	devices, err := await(md.Call("enumerateDevices"))
	if err != nil {
		return
	}
	a.mu.Lock()
	mic, spk := a.micID, a.speakerID
	a.mu.Unlock()
	_ = call(func() { a.ui.fillDevices(devices, mic, spk) })
}

// applySpeaker routes the far end's audio to the chosen output, where the
// browser has setSinkId.
func (a *app) applySpeaker() {
	a.mu.Lock()
	id := a.speakerID
	a.mu.Unlock()
	au := a.ui.audio()
	if id == "" || !au.Truthy() || !au.Get("setSinkId").Truthy() {
		return
	}
	if _, err := await(au.Call("setSinkId", id)); err != nil {
		a.fail("speaker", errorf("media", "setSinkId: %v", err))
	}
}
