//go:build js && wasm

package main

import (
	"context"
	"log/slog"
	"strings"
	"syscall/js"
)

// consoleHandler writes the bar's log to the browser console at the
// matching level (console.debug, info, warn, error), as "message key=value
// ...". It is lighter than slog's text handler on os.Stderr (no time
// stamp, which the console adds; no trip through wasm_exec.js's fake
// file system), and the console can filter and highlight by level.
type consoleHandler struct {
	level  slog.Level
	prefix string // " key=value" of WithAttrs, groups applied
	group  string // "group." of WithGroup, for the record's own keys
}

func newConsoleHandler(level slog.Level) *consoleHandler { return &consoleHandler{level: level} }

func (h *consoleHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *consoleHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	b.WriteString(h.prefix)
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&b, h.group, a)
		return true
	})
	method := "info"
	switch {
	case r.Level >= slog.LevelError:
		method = "error"
	case r.Level >= slog.LevelWarn:
		method = "warn"
	case r.Level < slog.LevelInfo:
		method = "debug"
	}
	return call(func() { js.Global().Get("console").Call(method, b.String()) })
}

func (h *consoleHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	for _, a := range attrs {
		appendAttr(&b, h.group, a)
	}
	n := *h
	n.prefix += b.String()
	return &n
}

func (h *consoleHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.group += name + "."
	return &n
}

// appendAttr writes " key=value", groups flattened into dotted keys and
// values with spaces quoted.
func appendAttr(b *strings.Builder, group string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		g := group
		if a.Key != "" {
			g += a.Key + "."
		}
		for _, ga := range a.Value.Group() {
			appendAttr(b, g, ga)
		}
		return
	}
	b.WriteByte(' ')
	b.WriteString(group)
	b.WriteString(a.Key)
	b.WriteByte('=')
	v := a.Value.String()
	if v == "" || strings.ContainsAny(v, " \"=") {
		b.WriteByte('"')
		b.WriteString(strings.ReplaceAll(v, `"`, `\"`))
		b.WriteByte('"')
	} else {
		b.WriteString(v)
	}
}
