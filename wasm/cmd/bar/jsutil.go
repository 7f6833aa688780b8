//go:build js && wasm

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"syscall/js"
)

// codedError is an error with a stable code for the page.
type codedError struct {
	Code    string
	Message string
}

func (e *codedError) Error() string { return e.Code + ": " + e.Message }

func errorf(code, format string, args ...any) error {
	return &codedError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// codeOf is err's stable code, "internal" if it has none.
func codeOf(err error) string {
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return "internal"
}

// jsError makes a JavaScript Error with a code property.
func jsError(err error) js.Value {
	msg := err.Error()
	var ce *codedError
	if errors.As(err, &ce) {
		msg = ce.Message
	}
	e := js.Global().Get("Error").New(msg)
	e.Set("code", codeOf(err))
	return e
}

// toJS turns a Go value into a plain JavaScript value through JSON.
func toJS(v any) js.Value {
	if v == nil {
		return js.Undefined()
	}
	if jv, ok := v.(js.Value); ok {
		return jv
	}
	b, err := json.Marshal(v)
	if err != nil {
		return js.Undefined()
	}
	return js.Global().Get("JSON").Call("parse", string(b))
}

// promise runs fn in its own goroutine (a JavaScript callback must never
// block) and settles a Promise with its outcome.
func promise(fn func() (any, error)) js.Value {
	executor := js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			v, err := safely(fn)
			if err != nil {
				reject.Invoke(jsError(err))
				return
			}
			resolve.Invoke(toJS(v))
		}()
		return nil
	})
	defer executor.Release()
	return js.Global().Get("Promise").New(executor)
}

// safely runs fn, turning a panic (a JavaScript exception inside a
// syscall/js call) into an error: the page never sees a Go panic.
func safely(fn func() (any, error)) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errorf("internal", "%v", r)
		}
	}()
	return fn()
}

// await blocks the calling goroutine (never a callback) until p settles.
func await(p js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	var ok, fail js.Func
	ok = js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{v: arg0(args)}
		return nil
	})
	fail = js.FuncOf(func(_ js.Value, args []js.Value) any {
		e := arg0(args)
		msg := "rejected"
		if e.Type() == js.TypeObject && e.Get("message").Type() == js.TypeString {
			msg = e.Get("name").String() + ": " + e.Get("message").String()
		} else if e.Type() != js.TypeUndefined {
			msg = e.Call("toString").String()
		}
		ch <- result{err: errors.New(msg)}
		return nil
	})
	defer ok.Release()
	defer fail.Release()
	p.Call("then", ok, fail)
	r := <-ch
	return r.v, r.err
}

func arg0(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}

// call invokes fn, recovering a thrown JavaScript exception as an error.
func call(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	fn()
	return nil
}

// str reads a string property, "" when it is not a string.
func str(v js.Value, key string) string {
	p := v.Get(key)
	if p.Type() != js.TypeString {
		return ""
	}
	return p.String()
}

// num reads a number property, 0 when it is not a number.
func num(v js.Value, key string) float64 {
	p := v.Get(key)
	if p.Type() != js.TypeNumber {
		return 0
	}
	return p.Float()
}

// perfMark sets a User Timing mark (agentbar:ready, agentbar:registered)
// that a host page can read with performance.getEntriesByName.
func perfMark(name string) {
	_ = call(func() { js.Global().Get("performance").Call("mark", name) })
}
