//go:build js && wasm

package main

import (
	"strconv"
	"strings"
	"syscall/js"
	"time"

	"github.com/agentbar/agentbar/wasm/core"
)

// ui is the page: the elements the bar updates, found once by id.
type ui struct {
	doc   js.Value
	root  js.Value
	el    map[string]js.Value
	ctls  []js.Value // buttons with data-ctl
	funcs []js.Func  // event handlers, kept for the page's lifetime
}

func newUI() *ui {
	doc := js.Global().Get("document")
	u := &ui{doc: doc, root: doc.Get("documentElement"), el: map[string]js.Value{}}
	for _, id := range []string{
		"bar", "loading", "error", "enable-audio", "signin", "signin-agent", "signin-password",
		"agent", "agent-name", "agent-state", "agent-reason", "wrapup", "wrapup-left", "reason",
		"call", "call-state", "call-caller", "call-queue", "call-timer", "call-data", "dialpad",
		"actions", "target-kind", "target", "devices", "mic", "speaker", "mos", "remote-audio",
		"ch-status", "ch-label", "ph-status", "ph-label", "lang", "figures", "figures-queues", "figures-agent",
	} {
		u.el[id] = doc.Call("getElementById", id)
	}
	nodes := doc.Call("querySelectorAll", "[data-ctl]")
	for i := 0; i < nodes.Length(); i++ {
		u.ctls = append(u.ctls, nodes.Index(i))
	}
	return u
}

func (u *ui) get(id string) js.Value {
	if v, ok := u.el[id]; ok && v.Truthy() {
		return v
	}
	return js.Null()
}

func (u *ui) audio() js.Value { return u.get("remote-audio") }

func (u *ui) setText(id, s string) {
	if e := u.get(id); e.Truthy() && e.Get("textContent").String() != s {
		e.Set("textContent", s)
	}
}

func (u *ui) show(id string, on bool) {
	if e := u.get(id); e.Truthy() {
		e.Set("hidden", !on)
	}
}

func (u *ui) showEnableAudio(on bool) { u.show("enable-audio", on) }

// listen adds an event handler that runs fn synchronously (fn must not block).
func (u *ui) listen(target js.Value, event string, fn func(ev js.Value)) {
	if !target.Truthy() {
		return
	}
	f := js.FuncOf(func(_ js.Value, args []js.Value) any {
		fn(arg0(args))
		return nil
	})
	u.funcs = append(u.funcs, f)
	target.Call("addEventListener", event, f)
}

// translate applies msgs to every [data-i18n] element.
func (u *ui) translate(lang core.Lang, msgs map[string]string) {
	u.root.Set("lang", string(lang))
	nodes := u.doc.Call("querySelectorAll", "[data-i18n]")
	for i := 0; i < nodes.Length(); i++ {
		n := nodes.Index(i)
		if s, ok := msgs[n.Get("dataset").Get("i18n").String()]; ok {
			n.Set("textContent", s)
		}
	}
	u.doc.Set("title", msgs["title"])
	if l := u.get("lang"); l.Truthy() {
		l.Set("value", string(lang))
	}
}

// render shows v. ringing marks the page while a call rings.
func (u *ui) render(v core.View, msgs map[string]string, chLink, phLink core.Link, errText string, mos float64, ringing bool) {
	u.show("loading", false)
	u.show("signin", !v.SignedIn && chLink != core.LinkConnecting)
	for _, id := range []string{"agent", "actions", "devices"} {
		u.show(id, v.SignedIn)
	}
	u.setText("ch-label", v.ChannelLabel)
	u.setText("ph-label", v.PhoneLabel)
	u.get("ch-status").Get("dataset").Set("link", string(orLink(chLink)))
	u.get("ph-status").Get("dataset").Set("link", string(orLink(phLink)))
	u.show("error", errText != "")
	u.setText("error", errText)

	name := v.Agent
	if v.Name != "" {
		name = v.Name + " (" + v.Agent + ")"
	}
	u.setText("agent-name", name)
	u.setText("agent-state", v.StateLabel)
	u.setText("agent-reason", v.Reason)
	u.show("wrapup", v.WrapUpLeft != "")
	u.setText("wrapup-left", v.WrapUpLeft)
	u.fillReasons(v.Reasons)
	u.renderFigures(v.Figures)

	u.show("call", v.Call != nil || v.Allowed.Has(core.CtlAnswer))
	if c := v.Call; c != nil {
		u.setText("call-state", c.StateLabel)
		u.setText("call-caller", c.Caller)
		u.setText("call-queue", c.Queue)
		u.setText("call-timer", c.Timer)
		u.fillData(c.Data)
	} else {
		u.setText("call-state", msgs["incoming"])
		for _, id := range []string{"call-caller", "call-queue", "call-timer"} {
			u.setText(id, "")
		}
		u.fillData(nil)
	}
	u.show("dialpad", v.Allowed.Has(core.CtlDTMF))
	for _, b := range u.ctls {
		c, ok := core.ControlByName(b.Get("dataset").Get("ctl").String())
		b.Set("disabled", !ok || !v.Allowed.Has(c))
	}
	if mos > 0 {
		u.setText("mos", strconv.FormatFloat(mos, 'f', 2, 64))
	} else {
		u.setText("mos", "–")
	}
	u.root.Get("classList").Call("toggle", "ringing", ringing)
}

// renderFigures shows the statistics strip: a line per queue, then the
// agent's own figures; hidden without figures.
func (u *ui) renderFigures(f *core.FiguresView) {
	u.show("figures", f != nil)
	if f == nil {
		return
	}
	u.setText("figures-agent", f.Agent)
	u.show("figures-agent", f.Agent != "")
	list := u.get("figures-queues")
	if !list.Truthy() {
		return
	}
	key := strings.Join(f.Queues, "\x00")
	if list.Get("dataset").Get("key").String() == key {
		return
	}
	list.Get("dataset").Set("key", key)
	list.Set("textContent", "")
	for _, q := range f.Queues {
		li := u.doc.Call("createElement", "li")
		li.Set("textContent", q)
		list.Call("appendChild", li)
	}
}

func orLink(l core.Link) core.Link {
	if l == "" {
		return core.LinkClosed
	}
	return l
}

// fillReasons rebuilds the reason selector when the server's list changes.
func (u *ui) fillReasons(rs []core.Reason) {
	sel := u.get("reason")
	if !sel.Truthy() {
		return
	}
	var key strings.Builder
	for _, r := range rs {
		key.WriteString(r.Code + "\x00" + r.Label + "\x00")
	}
	if sel.Get("dataset").Get("key").String() == key.String() && sel.Get("options").Length() == len(rs) {
		return
	}
	sel.Get("dataset").Set("key", key.String())
	keep := sel.Get("value").String()
	sel.Set("textContent", "")
	for _, r := range rs {
		o := u.doc.Call("createElement", "option")
		o.Set("value", r.Code)
		o.Set("textContent", r.Label)
		sel.Call("appendChild", o)
	}
	if keep != "" {
		sel.Set("value", keep)
	}
}

func (u *ui) fillData(kv [][2]string) {
	dl := u.get("call-data")
	if !dl.Truthy() {
		return
	}
	var key strings.Builder
	for _, p := range kv {
		key.WriteString(p[0] + "\x00" + p[1] + "\x00")
	}
	if dl.Get("dataset").Get("key").String() == key.String() {
		return
	}
	dl.Get("dataset").Set("key", key.String())
	dl.Set("textContent", "")
	for _, p := range kv {
		dt := u.doc.Call("createElement", "dt")
		dt.Set("textContent", p[0])
		dd := u.doc.Call("createElement", "dd")
		dd.Set("textContent", p[1])
		dl.Call("appendChild", dt)
		dl.Call("appendChild", dd)
	}
}

// fillDevices lists microphones and speakers (labels appear once the page
// may use the microphone). Speakers only where setSinkId exists.
func (u *ui) fillDevices(devices js.Value, mic, speaker string) {
	sinkOK := u.audio().Truthy() && u.audio().Get("setSinkId").Truthy()
	u.show("speaker", sinkOK)
	for _, sel := range []struct {
		id, kind, cur string
	}{{"mic", "audioinput", mic}, {"speaker", "audiooutput", speaker}} {
		s := u.get(sel.id)
		if !s.Truthy() {
			continue
		}
		s.Set("textContent", "")
		n := 0
		for i := 0; i < devices.Length(); i++ {
			d := devices.Index(i)
			if str(d, "kind") != sel.kind {
				continue
			}
			n++
			o := u.doc.Call("createElement", "option")
			o.Set("value", str(d, "deviceId"))
			label := str(d, "label")
			if label == "" {
				label = sel.kind + " " + strconv.Itoa(n)
			}
			o.Set("textContent", label)
			s.Call("appendChild", o)
		}
		if sel.cur != "" {
			s.Set("value", sel.cur)
		}
	}
}

// tick is how often timers and the MOS refresh.
const tick = time.Second
