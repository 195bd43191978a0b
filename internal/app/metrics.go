package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/gaia-platform/iam/internal/config"
	"github.com/gaia-platform/iam/internal/metrics"
	"github.com/gaia-platform/iam/internal/store/postgres"
)

// watch has m hear the store's audit appends and read the hashing gate
// and, on PostgreSQL, the connection pool.
func (a *App) watch(m *metrics.Metrics) {
	a.Store.ObserveAudit(m)
	m.WatchHashing(a.Users.HashStats)
	if pg, ok := a.Store.(*postgres.Store); ok {
		m.WatchPool(pg.PoolStat)
	}
}

// publicMetrics is what the public listener serves at GET /metrics: m,
// unless a listener of the metrics' own serves them.
func publicMetrics(cfg config.Config, m *metrics.Metrics) http.Handler {
	if cfg.MetricsAddr != "" {
		return nil
	}
	return m.Handler()
}

// listenMetrics binds IAM_METRICS_ADDR, when set.
func listenMetrics(cfg config.Config) (net.Listener, error) {
	if cfg.MetricsAddr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("IAM_METRICS_ADDR: %w", err)
	}
	return ln, nil
}

// serveMetrics serves m alone on ln (none: nothing to serve), sending a
// failure to errc, and returns what shuts it down.
func (a *App) serveMetrics(ln net.Listener, m *metrics.Metrics, t config.HTTPTimeouts, errc chan<- error) func(context.Context) error {
	if ln == nil {
		return func(context.Context) error { return nil }
	}
	srv := &http.Server{Handler: m.ListenerHandler(), ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read,
		WriteTimeout: t.Write, IdleTimeout: t.Idle, MaxHeaderBytes: 64 << 10}
	a.Log.Info("serving metrics", "addr", ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("IAM_METRICS_ADDR: %w", err)
		}
	}()
	return srv.Shutdown
}
