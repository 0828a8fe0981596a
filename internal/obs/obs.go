// Package obs is how Parley is observed: structured logs whose every line
// in a request carries the request's id, one access-log line per request,
// rate-limited lines for failed authentication, and Prometheus metrics.
//
// Metrics live in a per-server registry (Metrics), never the global one, so
// that two servers in one process (tests, a handover) count apart. Every
// method of *Metrics is safe on a nil receiver: a component given none
// counts nothing.
package obs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// NewLogger returns a logger writing format ("text" or "json") at level
// ("debug", "info", "warn" or "error"), whose lines carry the request id
// of the context they are logged with.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	switch strings.ToLower(format) {
	case "text", "":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q: use text or json", format)
	}
	return slog.New(WithRequestIDs(h)), nil
}

// WithRequestIDs wraps h so that a line logged with a request's context
// carries its request_id.
func WithRequestIDs(h slog.Handler) slog.Handler { return ctxHandler{h} }

type ctxHandler struct{ slog.Handler }

func (h ctxHandler) Handle(ctx context.Context, r slog.Record) error {
	if info := FromContext(ctx); info != nil {
		r.AddAttrs(slog.String("request_id", info.ID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h ctxHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return ctxHandler{h.Handler.WithAttrs(as)}
}

func (h ctxHandler) WithGroup(name string) slog.Handler { return ctxHandler{h.Handler.WithGroup(name)} }

// Info is what a request's log lines say of it.
type Info struct {
	ID        string
	Operation string

	mu      sync.Mutex
	contact string
}

type infoKey struct{}

// FromContext returns the request's Info, or nil outside a request.
func FromContext(ctx context.Context) *Info {
	info, _ := ctx.Value(infoKey{}).(*Info)
	return info
}

// SetContact records the contact a request concerns, for its access-log
// line. Handlers call it once they know.
func SetContact(ctx context.Context, contactID string) {
	if info := FromContext(ctx); info != nil {
		info.mu.Lock()
		info.contact = contactID
		info.mu.Unlock()
	}
}

func (i *Info) contactID() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.contact
}

// limiter lets through at most n lines a window, then one line saying how
// many were skipped.
type limiter struct {
	mu      sync.Mutex
	n       int
	window  time.Duration
	start   time.Time
	count   int
	skipped int
}

// allow reports whether to log now, and how many lines were skipped
// before, to say so.
func (l *limiter) allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= l.window {
		skipped := l.skipped
		l.start, l.count, l.skipped = now, 0, 0
		l.count++
		return true, skipped
	}
	if l.count < l.n {
		l.count++
		return true, 0
	}
	l.skipped++
	return false, 0
}
