//go:build js && wasm

package main

import (
	"context"
	"strconv"
	"syscall/js"
)

// fetchResult is a finished fetch: the status and up to limit bytes of
// the body.
type fetchResult struct {
	status     int
	statusText string
	body       []byte
}

// statusLine is "401 Unauthorized", as net/http's Response.Status was.
func (r fetchResult) statusLine() string {
	if r.statusText == "" {
		return strconv.Itoa(r.status)
	}
	return strconv.Itoa(r.status) + " " + r.statusText
}

// fetchPost POSTs body to url with the browser's fetch and reads up to
// limit bytes of the answer. Canceling ctx aborts the request.
func fetchPost(ctx context.Context, url, contentType string, body []byte, limit int) (fetchResult, error) {
	var r fetchResult
	if err := ctx.Err(); err != nil {
		return r, err
	}
	abort := js.Global().Get("AbortController").New()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			abort.Call("abort")
		case <-done:
		}
	}()
	data := js.Global().Get("Uint8Array").New(len(body))
	js.CopyBytesToJS(data, body)
	headers := js.Global().Get("Headers").New()
	headers.Call("set", "Content-Type", contentType)
	init := js.Global().Get("Object").New()
	init.Set("method", "POST")
	init.Set("headers", headers)
	init.Set("body", data)
	init.Set("signal", abort.Get("signal"))
	var p js.Value
	if err := call(func() { p = js.Global().Call("fetch", url, init) }); err != nil {
		return r, err
	}
	res, err := await(p)
	if err != nil {
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		return r, err
	}
	r.status, r.statusText = res.Get("status").Int(), res.Get("statusText").String()
	buf, err := await(res.Call("arrayBuffer"))
	if err != nil {
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		return r, err
	}
	arr := js.Global().Get("Uint8Array").New(buf)
	n := arr.Length()
	if n > limit {
		n = limit
	}
	r.body = make([]byte, n)
	js.CopyBytesToGo(r.body, arr.Call("subarray", 0, n))
	return r, nil
}
