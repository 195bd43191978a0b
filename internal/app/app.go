// Package app wires configuration, the store and the domain services into
// a running IAM. It holds no logic of its own beyond start-up and shutdown.
package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/bundle"
	"github.com/gaia-platform/iam/internal/config"
	"github.com/gaia-platform/iam/internal/console"
	"github.com/gaia-platform/iam/internal/consolesession"
	"github.com/gaia-platform/iam/internal/decisionlog"
	"github.com/gaia-platform/iam/internal/httpapi"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/metrics"
	"github.com/gaia-platform/iam/internal/serviceaccount"
	"github.com/gaia-platform/iam/internal/signin"
	"github.com/gaia-platform/iam/internal/store"
	"github.com/gaia-platform/iam/internal/store/postgres"
	"github.com/gaia-platform/iam/internal/store/sqlite"
	"github.com/gaia-platform/iam/internal/throttle"
	"github.com/gaia-platform/iam/internal/tokens"
	"github.com/gaia-platform/iam/internal/tracing"
	"github.com/gaia-platform/iam/policies"
)

var (
	_ store.Database = (*postgres.Store)(nil)
	_ store.Database = (*sqlite.Store)(nil)
)

// App is an open, migrated database with the services built on it.
type App struct {
	Store store.Database
	Users *identity.Service
	RBAC  *authz.Service
	Now   func() time.Time
	Log   *slog.Logger
}

// Open connects to the database, brings its schema up to date and builds
// the services, on the wall clock, hashing passwords within hashing.
func Open(ctx context.Context, db config.Database, hashing identity.HashLimits, log *slog.Logger) (*App, error) {
	return OpenAt(ctx, db, hashing, log, time.Now)
}

// OpenAt is Open with the services on the clock now.
func OpenAt(ctx context.Context, db config.Database, hashing identity.HashLimits, log *slog.Logger, now func() time.Time) (*App, error) {
	store, err := openStore(ctx, db)
	if err != nil {
		return nil, err
	}
	if _, err := store.Migrate(); err != nil {
		store.Close()
		return nil, err
	}
	users, err := identity.NewService(store, identity.DefaultArgon2, hashing, now)
	if err != nil {
		store.Close()
		return nil, err
	}
	return &App{Store: store, Users: users, RBAC: authz.NewService(store, now), Now: now, Log: log}, nil
}

// openStore opens the store db names.
func openStore(ctx context.Context, db config.Database) (store.Database, error) {
	switch db.Kind {
	case config.Postgres:
		s, err := postgres.Open(ctx, db.URL)
		if err != nil {
			return nil, err
		}
		return s, nil
	case config.SQLite:
		if db.DataDir != "" {
			if err := os.MkdirAll(db.DataDir, 0o700); err != nil {
				var pe *fs.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				return nil, fmt.Errorf("IAM_DATA_DIR: cannot create %s: %w", db.DataDir, err)
			}
		}
		s, err := sqlite.Open(ctx, db.Path)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("unknown store kind %q", db.Kind)
}

// Close releases the database.
func (a *App) Close() { a.Store.Close() }

// Handler builds the HTTP API for cfg, loading or creating the signing key.
// It compiles the first policy bundle before it returns, and keeps the
// bundle fresh in the background until ctx ends.
func (a *App) Handler(ctx context.Context, cfg config.Config) (http.Handler, error) {
	h, _, err := a.handler(ctx, cfg, metrics.New())
	return h, err
}

// handler builds the HTTP API and starts what keeps it current: the
// keyring following rotations and the bundle publisher following the
// store, each on its own poll. The channels close once those have
// stopped, after ctx ends. m hears every service; the API serves it
// unless cfg.MetricsAddr does.
func (a *App) handler(ctx context.Context, cfg config.Config, m *metrics.Metrics) (http.Handler, []<-chan struct{}, error) {
	a.watch(m)
	keys, err := a.Keyring(ctx, cfg.SigningKeyFile)
	if err != nil {
		return nil, nil, err
	}
	a.Log.Info("signing key loaded", "kid", keys.At(a.Now()).Signing.ID)
	services, err := a.ServiceAccounts(ctx, cfg.ClientSecretPepper)
	if err != nil {
		return nil, nil, err
	}
	bundles, err := a.publishBundles(ctx, cfg, keys, m)
	if err != nil {
		return nil, nil, err
	}
	authorizer, err := bundle.NewAuthorizer(bundles.Current, a.Now)
	if err != nil {
		return nil, nil, err
	}
	issuer := tokens.NewIssuer(keys, cfg.Issuer, cfg.AccessTokenTTL, a.Now)
	verifier := tokens.NewVerifier(keys, cfg.Issuer, a.Now)
	sessions := tokens.NewSessions(a.Store, tokens.SessionPolicy{
		TTL: cfg.Sessions.RefreshTokenTTL, IdleTimeout: cfg.Sessions.IdleTimeout, ReuseGrace: cfg.Sessions.ReuseGrace,
	}, a.Now)
	sessions.Observe(m)
	revoker := tokens.NewRevoker(a.Store, issuer.TTL(), a.Now)
	signins := signin.NewService(signin.Deps{
		Users: a.Users, Grants: a.RBAC, Clients: services, Throttle: a.Throttle(cfg.Throttle),
		Sessions: sessions, Issuer: issuer, Verifier: verifier, Revoker: revoker, Observer: m,
	})
	trail := audit.NewTrail(a.Store)
	decisions := a.DecisionLogs(cfg.DecisionLogs)
	decisions.Observe(m)
	admin, err := console.New(console.Deps{
		Users: a.Users, RBAC: a.RBAC, Services: services, Signin: signins, Sessions: sessions,
		Console:    consolesession.NewService(a.Store, cfg.Console, a.Now),
		Authorizer: authorizer, AuditTrail: trail,
		VerifyAudit:  func(ctx context.Context) (int, error) { return audit.Verify(ctx, a.Store.AuditChain) },
		DecisionLogs: decisions, DecisionLogSubject: a.SubjectID,
		Keys: keys, Bundle: bundles.Current, SyncBundle: bundles.Sync, PollInterval: bundle.PollInterval,
		PublicURL: cfg.PublicURL, Proxies: cfg.TrustedProxies, Log: a.Log, Now: a.Now,
	})
	if err != nil {
		return nil, nil, err
	}
	return httpapi.New(httpapi.Deps{
		Users:       a.Users,
		Proxies:     cfg.TrustedProxies,
		HSTS:        strings.HasPrefix(cfg.PublicURL, "https://"),
		RBAC:        a.RBAC,
		Services:    services,
		Verifier:    verifier,
		Keys:        keys,
		Ready:       a.Store.Ping,
		Bundle:      bundles.Current,
		IssuerID:    cfg.Issuer,
		PublicURL:   cfg.PublicURL,
		Log:         a.Log,
		Now:         a.Now,
		Signin:      signins,
		Sessions:    sessions,
		Revocations: revoker,

		AllowPasswordGrant: cfg.AllowPasswordGrant,
		Authorizer:         authorizer,
		SyncBundle:         bundles.Sync,
		ActiveRevocations:  bundles.Revocations,
		AuditTrail:         trail,
		DecisionLogs:       decisions,
		DecisionLogMaxBody: cfg.DecisionLogs.MaxBytes,
		DecisionLogSubject: a.SubjectID,
		Console:            admin,
		Metrics:            publicMetrics(cfg, m),
		Requests:           m,
	}), []<-chan struct{}{keys.Follow(ctx, bundle.PollInterval, a.Log, bundles.Sync), bundles.Done()}, nil
}

// SubjectID is the token subject a decision log filter names: a user's or
// a service account's id for its name; anything else is taken as recorded.
func (a *App) SubjectID(ctx context.Context, name string) (string, error) {
	if _, err := uuid.Parse(name); name == "" || err == nil {
		return name, nil
	}
	u, err := a.Users.Lookup(ctx, name)
	if err == nil {
		return u.ID.String(), nil
	}
	if !errors.Is(err, identity.ErrUserNotFound) {
		return "", err
	}
	sa, err := a.Store.ServiceAccountByName(ctx, name)
	if err == nil {
		return sa.ID.String(), nil
	}
	if !errors.Is(err, serviceaccount.ErrNotFound) {
		return "", err
	}
	return name, nil
}

// DecisionLogs returns the decision log service kept by cfg.
func (a *App) DecisionLogs(cfg config.DecisionLogs) *decisionlog.Service {
	return decisionlog.NewService(a.Store, decisionlog.Config{
		Limits: decisionlog.Limits{MaxBytes: cfg.MaxBytes, MaxEvents: cfg.MaxEvents}, Retention: cfg.Retention,
	}, a.Now)
}

// Throttle returns the login throttle applying policy.
func (a *App) Throttle(policy throttle.Policy) *throttle.Throttle {
	return throttle.NewThrottle(a.Store, policy, a.Now)
}

// ServiceAccounts returns the service account service, hashing client
// secrets with pepper, or when it is empty with the pepper kept in the
// database (generated on first use).
func (a *App) ServiceAccounts(ctx context.Context, pepper string) (*serviceaccount.Service, error) {
	p, err := serviceaccount.Pepper(ctx, a.Store, pepper, a.Now)
	if err != nil {
		return nil, err
	}
	return serviceaccount.NewService(a.Store, p, a.Now), nil
}

// publishBundles compiles the policy bundle, signed with the token signing
// key, and starts keeping it fresh until ctx ends.
func (a *App) publishBundles(ctx context.Context, cfg config.Config, keys *tokens.Keyring, m *metrics.Metrics) (*bundle.Publisher, error) {
	mods, err := policies.Modules()
	if err != nil {
		return nil, err
	}
	compiler, err := bundle.NewCompiler(bundle.Config{Issuer: cfg.Issuer, TokenTTL: cfg.AccessTokenTTL, Modules: mods})
	if err != nil {
		return nil, err
	}
	p := bundle.NewPublisher(a.Store, compiler, keys, a.Now, a.Log)
	p.Observe(m)
	m.WatchBundle(p.Current, a.Now)
	return p, p.Start(ctx)
}

// Keyring holds the key from file, or when file is empty the keys kept in
// the database (generating a first one on first use), which rotate.
func (a *App) Keyring(ctx context.Context, file string) (*tokens.Keyring, error) {
	if file == "" {
		return tokens.LoadKeyring(ctx, a.Store, a.Now)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("IAM_SIGNING_KEY_FILE: cannot read %s: %w", file, errors.Unwrap(err))
	}
	priv, err := tokens.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("IAM_SIGNING_KEY_FILE %s: %w", file, err)
	}
	key, err := tokens.NewKey(priv, a.Now().UTC())
	if err != nil {
		return nil, err
	}
	return tokens.NewKeyring(key), nil
}

// Serve runs the HTTP API on cfg.HTTPAddr until ctx is cancelled, then
// shuts down gracefully: it stops accepting connections, gives the
// requests in flight cfg.ShutdownGrace to finish, and only then stops the
// background work (key reloads, bundle publishing, decision-log pruning)
// and waits for it, so that the caller may close the database.
func (a *App) Serve(ctx context.Context, cfg config.Config) error {
	// The background work outlives ctx: requests still finishing in the
	// grace rely on the keys and the bundle it keeps current. It stops
	// once they are done, however the server stops.
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	stopTracing, err := tracing.Start(ctx)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	defer func() {
		// The last spans, those of the shutdown included, reach the
		// collector or are given up on after a few seconds.
		flush, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(flush); err != nil {
			a.Log.Warn("traces not flushed", "err", err)
		}
	}()
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("IAM_HTTP_ADDR: %w", err)
	}
	defer ln.Close()
	metricsLn, err := listenMetrics(cfg)
	if err != nil {
		return err
	}
	if metricsLn != nil {
		defer metricsLn.Close()
	}
	if cfg.PublicURL == "http://"+cfg.HTTPAddr {
		// The default public URL names the port bound, also when the
		// kernel picked it (IAM_HTTP_ADDR=127.0.0.1:0).
		cfg.PublicURL = "http://" + ln.Addr().String()
	}
	m := metrics.New()
	h, background, err := a.handler(bg, cfg, m)
	if err != nil {
		return err
	}
	background = append(background, a.DecisionLogs(cfg.DecisionLogs).KeepPruning(bg, a.Log),
		audit.KeepVerifying(bg, a.Store.AuditChain, cfg.AuditVerifyInterval, a.Log, m.AuditChainVerified))
	defer func() {
		stop()
		for _, done := range background {
			<-done
		}
		a.Log.Info("background work stopped")
	}()
	t := cfg.HTTPTimeouts
	if tracing.Enabled() {
		// A span per request, the child of the client's traceparent;
		// httpapi names it by its route.
		h = otelhttp.NewHandler(h, "http.request", otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }))
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read,
		WriteTimeout: t.Write, IdleTimeout: t.Idle, MaxHeaderBytes: 64 << 10}
	if s, ok := a.Store.(*sqlite.Store); ok {
		// Once the server is up, so that a configuration error stays the
		// one line on stderr.
		a.Log.Info("using the embedded SQLite store, for one host; PostgreSQL is the production store (set IAM_DATABASE_URL=postgres://…)",
			"path", s.Path())
	}
	a.Log.Info("listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer)
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	stopMetrics := a.serveMetrics(metricsLn, m, t, errc)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	err = a.drain(srv, cfg.ShutdownGrace)
	shutdown, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	return errors.Join(err, stopMetrics(shutdown))
}

// drain stops srv accepting and waits up to grace for the requests in
// flight; those still running then have their connections closed.
func (a *App) drain(srv *http.Server, grace time.Duration) error {
	a.Log.Info("shutting down: no new connections, waiting for the requests in flight", "grace", grace.String())
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("requests still in flight after IAM_SHUTDOWN_GRACE %s: their connections were closed", grace)
	}
	a.Log.Info("requests in flight finished", "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}
