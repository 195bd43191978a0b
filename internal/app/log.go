package app

import (
	"io"
	"log/slog"

	"github.com/gaia-platform/iam/internal/config"
	"github.com/gaia-platform/iam/internal/requestid"
)

// NewLogger returns the logger of the iam commands: lines of format
// (config.LogText or config.LogJSON) on w from level up, those logged with
// a request's context (InfoContext, LogAttrs) carrying its request_id.
func NewLogger(w io.Writer, format string, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if format == config.LogJSON {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(requestid.Handler(h))
}
