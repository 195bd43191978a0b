package bundle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gaia-platform/iam/internal/tokens"
)

// Default intervals of a Publisher.
const (
	// PollInterval is how often the change counter is read. Every change
	// within one interval lands in one rebuild.
	PollInterval = 500 * time.Millisecond
	// RefreshInterval is how often the clock alone forces a recompile, so
	// that revocations that stopped mattering leave the bundle.
	RefreshInterval = 30 * time.Second
)

// Publisher holds the bundle to serve and keeps it fresh in the
// background. Requests only read the current bundle; they never compile.
type Publisher struct {
	store    Store
	compiler *Compiler
	keys     *tokens.Keyring
	now      func() time.Time
	log      *slog.Logger
	poll     time.Duration
	refresh  time.Duration
	observer Observer

	current atomic.Pointer[Signed]
	done    chan struct{}

	mu   sync.Mutex // serialises refreshes: the poll's and Sync's
	last *compiled  // what current was compiled from; nil before Start
}

// NewPublisher returns a Publisher of the bundles compiler makes from store,
// signed with and publishing keys. It does not reload keys: whoever owns
// them keeps them current (app runs tokens.Keyring.Follow, which calls
// Sync after a reload that changed them), and a refresh that finds other
// keys in force recompiles.
func NewPublisher(store Store, compiler *Compiler, keys *tokens.Keyring, now func() time.Time, log *slog.Logger) *Publisher {
	return &Publisher{store: store, compiler: compiler, keys: keys, now: now, log: log,
		poll: PollInterval, refresh: RefreshInterval, done: make(chan struct{}), observer: noObserver{}}
}

// Observer is told of every compilation, so that operators can count and
// time them (internal/metrics does). Its method must be cheap and must
// not block.
type Observer interface {
	// BundleCompiled follows a compilation that took took; published
	// says whether it produced a new revision, now served.
	BundleCompiled(took time.Duration, published bool)
}

type noObserver struct{}

func (noObserver) BundleCompiled(time.Duration, bool) {}

// Observe has o told of every compilation from now on. Call it before
// Start.
func (p *Publisher) Observe(o Observer) { p.observer = o }

// ErrUnavailable is returned where a bundle is needed and none has been
// compiled yet.
var ErrUnavailable = errors.New("the policy bundle is not compiled yet")

// Current is the bundle to serve now; nil before Start has succeeded.
func (p *Publisher) Current() *Signed { return p.current.Load() }

// Done is closed once the background work Start began has stopped.
func (p *Publisher) Done() <-chan struct{} { return p.done }

// Start compiles the first bundle, then keeps it fresh until ctx ends. An
// error means there is no bundle to serve, and nothing runs. Call it once.
func (p *Publisher) Start(ctx context.Context) error {
	if err := p.Sync(ctx); err != nil {
		return fmt.Errorf("compile the policy bundle: %w", err)
	}
	go p.run(ctx)
	return nil
}

// Sync brings the bundle up to date now instead of at the next poll: the
// HTTP API calls it after a change of its own (a logout, a revocation, a
// role change), so that this replica serves and enforces the change
// before it answers. It costs one read of the change counter when nothing
// changed.
func (p *Publisher) Sync(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	next, err := p.refreshIfStale(ctx, p.last)
	if err != nil {
		return err
	}
	p.last = &next
	return nil
}

// compiled is what the current bundle was compiled from.
type compiled struct {
	version int64
	at      time.Time
	keys    tokens.KeySet
}

// epoch is the clock quantised to the refresh interval. Bundles are
// compiled as of an epoch, not the exact time, so that replicas drop the
// same revocations, and a new epoch is what forces the periodic recompile.
func (p *Publisher) epoch() time.Time { return p.now().Truncate(p.refresh) }

func (p *Publisher) run(ctx context.Context) {
	defer close(p.done)
	tick := time.NewTicker(p.poll)
	defer tick.Stop()
	var failure error
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := p.Sync(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && failure == nil:
			// Once per outage, not every tick; the last good bundle stays.
			p.log.Warn("policy bundle not refreshed; serving the last one", "revision", p.Current().Revision, "err", err)
		case err == nil && failure != nil:
			p.log.Info("policy bundle refreshing again")
		}
		failure = err
	}
}

// refreshIfStale recompiles when the store changed, a new epoch began, or
// the keys in force moved (the keyring reloaded a rotation, a pending key
// activated, a replaced one retired); with no last bundle it always
// compiles. The version is read before the source, so that a change
// racing with it shows as a newer version at the next poll.
func (p *Publisher) refreshIfStale(ctx context.Context, last *compiled) (compiled, error) {
	at := p.epoch()
	v, err := p.store.BundleVersion(ctx)
	if err != nil {
		return compiled{}, err
	}
	keys := p.keys.At(p.now())
	if last != nil && v == last.version && at.Equal(last.at) && keys.Same(last.keys) {
		return *last, nil
	}
	next := compiled{version: v, at: at, keys: keys}
	return next, p.rebuild(ctx, next)
}

// rebuild compiles a fresh snapshot and swaps it in when its content
// differs: the same revision means the same bytes, already served.
func (p *Publisher) rebuild(ctx context.Context, c compiled) error {
	start := time.Now()
	src, err := ReadSource(ctx, p.store)
	if err != nil {
		return err
	}
	signed, err := p.compiler.Compile(src, c.at, c.keys)
	if err != nil {
		return err
	}
	took := time.Since(start)
	old := p.current.Load()
	published := old == nil || old.Revision != signed.Revision
	if published {
		signed.BuiltAt = p.now()
		p.current.Store(signed)
		p.log.Info("policy bundle compiled", "revision", signed.Revision, "version", src.Version, "kid", c.keys.Signing.ID,
			"roles", len(src.Roles), "bytes", len(signed.Bytes), "took", took)
	}
	p.observer.BundleCompiled(took, published)
	return nil
}

// Revocations are those a bundle compiled now publishes, in Unix seconds:
// token ids until their tokens expire, and subjects' not-before times
// until every token issued before them has expired.
type Revocations struct {
	Tokens   map[string]int64 // jti → the token's expiry
	Subjects map[string]int64 // subject → not before
}

// Revocations reads the revocations that are in force now.
func (p *Publisher) Revocations(ctx context.Context) (Revocations, error) {
	src, err := ReadSource(ctx, p.store)
	if err != nil {
		return Revocations{}, err
	}
	at := p.now()
	return Revocations{
		Tokens:   liveTokens(src.TokenRevocations, at),
		Subjects: liveSubjects(src.SubjectRevocations, at, p.compiler.ttl),
	}, nil
}
