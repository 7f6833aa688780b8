//go:build js && wasm

package main

import (
	"sync"
	"syscall/js"
	"time"
)

// ringer plays the ringtone with WebAudio: a 440+480 Hz beep of one
// second every three while a call rings. A browser that blocks audio
// until the user interacts leaves the AudioContext suspended; onBlocked
// then shows the "enable audio" button.
type ringer struct {
	onBlocked func()

	mu   sync.Mutex
	ctx  js.Value
	stop chan struct{}
}

func newRinger() *ringer { return &ringer{} }

func (r *ringer) audioContext() js.Value {
	if r.ctx.Truthy() {
		return r.ctx
	}
	ctor := js.Global().Get("AudioContext")
	if !ctor.Truthy() {
		ctor = js.Global().Get("webkitAudioContext")
	}
	if ctor.Truthy() {
		_ = call(func() { r.ctx = ctor.New() })
	}
	return r.ctx
}

// unlock resumes audio after a user gesture.
func (r *ringer) unlock() {
	r.mu.Lock()
	ctx := r.audioContext()
	r.mu.Unlock()
	if ctx.Truthy() {
		_ = call(func() { ctx.Call("resume") })
	}
}

// set starts or stops ringing.
func (r *ringer) set(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on == (r.stop != nil) {
		return
	}
	if !on {
		close(r.stop)
		r.stop = nil
		return
	}
	ctx := r.audioContext()
	if !ctx.Truthy() {
		return
	}
	stop := make(chan struct{})
	r.stop = stop
	go r.loop(ctx, stop)
}

func (r *ringer) loop(ctx js.Value, stop chan struct{}) {
	if ctx.Get("state").String() == "suspended" {
		_ = call(func() { ctx.Call("resume") })
		time.Sleep(200 * time.Millisecond)
		if ctx.Get("state").String() == "suspended" && r.onBlocked != nil {
			r.onBlocked()
		}
	}
	t := time.NewTicker(3 * time.Second)
	defer t.Stop()
	for {
		r.beep(ctx)
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

func (r *ringer) beep(ctx js.Value) {
	_ = call(func() {
		now := ctx.Get("currentTime").Float()
		gain := ctx.Call("createGain")
		gain.Get("gain").Set("value", 0.08)
		gain.Call("connect", ctx.Get("destination"))
		for _, f := range []float64{440, 480} {
			osc := ctx.Call("createOscillator")
			osc.Get("frequency").Set("value", f)
			osc.Call("connect", gain)
			osc.Call("start", now)
			osc.Call("stop", now+1)
		}
	})
}
