// Package requestid names each HTTP request with an id that its response
// echoes and its log lines carry. It never lets a client's value through
// unchecked: an id that is not well-formed is replaced, not logged.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
)

// Header is the request and response header the id travels in.
const Header = "X-Request-Id"

// MaxLen bounds an id taken from a request.
const MaxLen = 64

// Valid reports whether id is well-formed: 1 to MaxLen characters of
// A-Z, a-z, 0-9, '.', '_' and '-'. That covers UUIDs, hex ids and the
// ids proxies and load balancers generate, and keeps spaces, quotes,
// control characters and anything long enough to smuggle a token out of
// the logs.
func Valid(id string) bool {
	if len(id) == 0 || len(id) > MaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// New returns a fresh random id: 16 bytes from crypto/rand, in hex.
func New() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand's contract since Go 1.24)
	return hex.EncodeToString(b)
}

// Of is the id of a request with header h: the one it sent when that is a
// single well-formed value, else a new one.
func Of(h http.Header) string {
	if v := h.Values(Header); len(v) == 1 && Valid(v[0]) {
		return v[0]
	}
	return New()
}

type key struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// From is the id ctx carries, empty when none.
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}

// Attr is the log attribute of a request id.
const Attr = "request_id"

// Handler wraps h so that every record logged with a context carrying a
// request id (Logger.InfoContext, LogAttrs, ...) has it as its first
// attribute, request_id.
func Handler(h slog.Handler) slog.Handler { return handler{h} }

type handler struct{ slog.Handler }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	id := From(ctx)
	if id == "" {
		return h.Handler.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(slog.String(Attr, id))
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(a)
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{h.Handler.WithAttrs(attrs)}
}

func (h handler) WithGroup(name string) slog.Handler { return handler{h.Handler.WithGroup(name)} }
