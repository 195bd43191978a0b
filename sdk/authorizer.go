package sdk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/plugins"
	opasdk "github.com/open-policy-agent/opa/v1/sdk"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// Reasons a Decision denies, as the policy names them.
const (
	ReasonTokenInvalid      = "token_invalid"
	ReasonTokenExpired      = "token_expired"
	ReasonTokenRevoked      = "token_revoked"
	ReasonPermissionMissing = "permission_missing"
)

// Errors returned by an Authorizer.
var (
	// ErrNotReady means no bundle has been loaded yet: every check is denied.
	ErrNotReady = errors.New("sdk: no policy bundle loaded yet")
	// ErrInvalidToken means the token is not a valid, unrevoked IAM token.
	ErrInvalidToken = errors.New("sdk: invalid token")
)

// Decision is the policy's answer for one token and permission.
type Decision struct {
	Allow    bool
	Reasons  []string // empty when allowed
	Revision string   // the bundle revision that decided
}

// Principal is a verified token's subject.
type Principal struct {
	Subject     string // user or service account id
	Username    string
	Type        string // "user" or "service"
	Roles       []string
	Permissions []string // as issued; decisions use the bundle's current grants
	TokenID     string
	IssuedAt    time.Time
	ExpiresAt   time.Time
}

// Authorizer answers permission checks locally from the IAM's bundle.
type Authorizer struct {
	cfg      Config
	store    storage.Store
	opa      atomic.Pointer[opasdk.OPA]
	revision atomic.Pointer[string] // active bundle revision; nil before the first
	// engineReady is closed by OPA once its plugins, the bundle among them,
	// are ready: the store may hold a bundle a moment before the compiler
	// has its policy.
	engineReady atomic.Pointer[chan struct{}]
	cache       *decisionCache
	now         func() time.Time

	keysMu sync.Mutex
	keys   keySet

	cancel context.CancelFunc
	done   chan struct{}
}

// New starts an Authorizer that loads the IAM's JWKS and signed bundle in
// the background. It returns at once; Ready reports when the first bundle
// is active, and until then every check is denied.
func New(ctx context.Context, cfg Config) (*Authorizer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("sdk: cache directory: %w", err)
		}
	}
	a := &Authorizer{
		cfg:   cfg,
		store: inmem.NewWithOpts(inmem.OptReturnASTValuesOnRead(true)),
		cache: newDecisionCache(cfg.DecisionCacheSize),
		now:   time.Now,
		done:  make(chan struct{}),
	}
	if err := a.watchRevision(ctx); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	go a.run(runCtx)
	return a, nil
}

// Ready reports whether a bundle is active, so that checks can be allowed.
func (a *Authorizer) Ready() bool {
	ready := a.engineReady.Load()
	if ready == nil || a.revision.Load() == nil {
		return false
	}
	select {
	case <-*ready:
		return true
	default:
		return false
	}
}

// Close stops background polling and releases the evaluator.
func (a *Authorizer) Close() {
	a.cancel()
	<-a.done
	if o := a.opa.Load(); o != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		o.Stop(ctx)
	}
}

// watchRevision tracks the active bundle revision whenever the store
// changes, whether the bundle came from the IAM or from the disk cache.
func (a *Authorizer) watchRevision(ctx context.Context) error {
	return storage.Txn(ctx, a.store, storage.WriteParams, func(txn storage.Transaction) error {
		_, err := a.store.Register(ctx, txn, storage.TriggerConfig{
			OnCommit: func(ctx context.Context, txn storage.Transaction, _ storage.TriggerEvent) {
				rev, err := bundle.ReadBundleRevisionFromStore(ctx, a.store, txn, bundleName)
				if err == nil && rev != "" {
					a.revision.Store(&rev)
				}
			},
		})
		return err
	})
}

// run obtains the keys, starts the evaluator, then keeps the keys fresh.
func (a *Authorizer) run(ctx context.Context) {
	defer close(a.done)
	ticker := time.NewTicker(a.cfg.PollInterval)
	defer ticker.Stop()
	for a.opa.Load() == nil {
		if err := a.start(ctx); err != nil {
			a.cfg.Logger.Warn("gaia sdk: not started yet, retrying", "err", err)
		}
		if a.opa.Load() != nil {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			a.refreshKeys(ctx)
		}
	}
}

// start configures the embedded OPA from the IAM's JWKS, or from the cached
// copy when the IAM is unreachable.
func (a *Authorizer) start(ctx context.Context) error {
	ks, err := a.fetchKeys(ctx)
	if err == nil {
		a.saveKeys(ks)
	} else if saved, serr := a.loadSavedKeys(); serr == nil {
		a.cfg.Logger.Warn("gaia sdk: IAM unreachable, starting from cached keys and bundle", "err", err)
		ks = saved
	} else {
		return err
	}
	conf, err := a.opaConfig(ks)
	if err != nil {
		return err
	}
	ready := make(chan struct{})
	opts := opasdk.Options{
		ID:            "gaia-sdk",
		Config:        bytes.NewReader(conf),
		Store:         a.store,
		Logger:        opaLogger{a.cfg.Logger},
		ConsoleLogger: opaLogger{a.cfg.Logger},
		Ready:         ready,
	}
	if d := a.cfg.DecisionLogs; d != nil {
		opts.Plugins = map[string]plugins.Factory{logsAuthPlugin: tokenAuthFactory{src: d.TokenSource, client: a.cfg.HTTPClient}}
	}
	o, err := opasdk.New(ctx, opts)
	if err != nil {
		return fmt.Errorf("start policy engine: %w", err)
	}
	a.keysMu.Lock()
	a.keys = ks
	a.keysMu.Unlock()
	a.opa.Store(o)
	a.engineReady.Store(&ready)
	return nil
}

// refreshKeys re-reads the JWKS and reconfigures bundle verification when
// the IAM's keys changed (rotation).
func (a *Authorizer) refreshKeys(ctx context.Context) {
	ks, err := a.fetchKeys(ctx)
	if err != nil {
		return // the IAM is down: keep the keys and bundle we have
	}
	a.keysMu.Lock()
	defer a.keysMu.Unlock()
	if ks.sameKeys(a.keys) {
		return
	}
	conf, err := a.opaConfig(ks)
	if err == nil {
		// With a Ready channel Configure returns once the new configuration
		// runs, instead of waiting for its first bundle: the key polls go on
		// (and Close returns) even while the IAM serves no bundle that the
		// new keys verify, such as one signed by a key since revoked.
		err = a.opa.Load().Configure(ctx, opasdk.ConfigOptions{Config: bytes.NewReader(conf), Ready: make(chan struct{})})
	}
	if err != nil {
		a.cfg.Logger.Error("gaia sdk: cannot apply the IAM's new keys", "err", err)
		return
	}
	a.keys = ks
	a.saveKeys(ks)
}
