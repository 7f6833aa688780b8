package callcenter

import (
	"context"
	"log/slog"
)

// quietHandler demotes sipgo's records: its errors (an unparseable packet,
// a peer gone) are warnings for the call center, the rest debug. A flood of
// garbage on the trunk then cannot fill the logs with errors.
type quietHandler struct{ inner slog.Handler }

// sipgoLogger is the logger handed to sipgo.
func sipgoLogger(l *slog.Logger) *slog.Logger { return slog.New(quietHandler{l.Handler()}) }

func demote(l slog.Level) slog.Level {
	if l >= slog.LevelError {
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

// Enabled implements slog.Handler.
func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, demote(l))
}

// Handle implements slog.Handler.
func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = demote(r.Level)
	return h.inner.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return quietHandler{h.inner.WithAttrs(as)}
}

// WithGroup implements slog.Handler.
func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.inner.WithGroup(name)}
}
