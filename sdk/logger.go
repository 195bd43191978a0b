package sdk

import (
	"fmt"
	"log/slog"

	"github.com/open-policy-agent/opa/v1/logging"
)

// opaLogger sends the embedded OPA's logs to the service's slog logger.
type opaLogger struct{ l *slog.Logger }

func (o opaLogger) Debug(f string, a ...any) { o.l.Debug(fmt.Sprintf(f, a...), "component", "opa") }
func (o opaLogger) Info(f string, a ...any)  { o.l.Info(fmt.Sprintf(f, a...), "component", "opa") }
func (o opaLogger) Warn(f string, a ...any)  { o.l.Warn(fmt.Sprintf(f, a...), "component", "opa") }
func (o opaLogger) Error(f string, a ...any) { o.l.Error(fmt.Sprintf(f, a...), "component", "opa") }

func (o opaLogger) WithFields(fields map[string]any) logging.Logger {
	args := make([]any, 0, 2*len(fields))
	for k, v := range fields {
		args = append(args, k, v)
	}
	return opaLogger{o.l.With(args...)}
}

func (o opaLogger) GetLevel() logging.Level { return logging.Debug }
func (o opaLogger) SetLevel(logging.Level)  {}
