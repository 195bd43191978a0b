package httpapi

import (
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/trace"

	"github.com/gaia-platform/iam/internal/requestid"
)

// logRequests names the request (its X-Request-Id when well-formed, else
// a new id), echoes the id on the response whatever it turns out to be,
// puts it in the request's context so that every line logged about the
// request carries it, and logs one line when the request is done. The
// line holds no query string, header or body: those carry credentials.
func (a *api) logRequests(c *gin.Context) {
	start := time.Now()
	id := requestid.Of(c.Request.Header)
	c.Header(requestid.Header, id)
	c.Request = c.Request.WithContext(requestid.With(c.Request.Context(), id))
	c.Next()
	attrs := []slog.Attr{
		slog.String("method", c.Request.Method),
		slog.String("route", c.FullPath()), // the route template: empty for no route
		slog.String("path", c.Request.URL.Path),
		slog.Int("status", c.Writer.Status()),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		slog.String("client_ip", clientIP(c)),
	}
	if sc := trace.SpanContextFromContext(c.Request.Context()); sc.IsValid() {
		// With tracing on, the line leads to the request's trace.
		attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
	}
	a.Log.LogAttrs(c.Request.Context(), slog.LevelInfo, "request", attrs...)
}
