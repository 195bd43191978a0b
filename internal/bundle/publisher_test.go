package bundle_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/bundle"
)

func TestPublisher_StartFailsWithoutAFirstBundle(t *testing.T) {
	store := newFakeStore()
	store.fail(errors.New("database is down"))
	p, _ := newPublisher(t, store, time.Now)
	err := p.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "database is down") {
		t.Fatalf("Start with a failing store = %v, want its error", err)
	}
	if p.Current() != nil {
		t.Error("a failed Start left a bundle to serve")
	}
}

// Many changes between two polls give one rebuild, not one each.
func TestPublisher_BurstOfChangesGivesOneRebuild(t *testing.T) {
	store := newFakeStore()
	p, _ := newPublisher(t, store, time.Now)
	bundle.SetPollInterval(p, 100*time.Millisecond)
	start(t, p)
	first := p.Current()
	for i := range 50 {
		store.change(func(s *bundle.Source) { s.Roles["Viewer"] = []string{fmt.Sprintf("shop.p%d", i)} })
	}
	eventually(t, func() bool { return p.Current() != first })
	time.Sleep(300 * time.Millisecond) // three more polls: nothing left to rebuild
	// The initial compile, then one rebuild, or two if a poll fell inside
	// the burst.
	if n := store.reads.Load(); n < 2 || n > 3 {
		t.Errorf("%d source reads for a burst of 50 changes, want 2 or 3", n)
	}
}

func TestPublisher_SwapsOnlyWhenTheContentChanges(t *testing.T) {
	store := newFakeStore()
	p, logs := newPublisher(t, store, time.Now)
	start(t, p)
	first := p.Current()
	store.change(func(*bundle.Source) {}) // a write that changed nothing the bundle shows
	eventually(t, func() bool { return store.reads.Load() == 2 })
	if p.Current() != first {
		t.Error("a recompile with the same content replaced the served bundle")
	}
	store.change(func(s *bundle.Source) { s.TokenRevocations = map[string]time.Time{"jti-9": time.Now().Add(time.Hour)} })
	eventually(t, func() bool { return p.Current() != first })
	if n := strings.Count(logs.String(), "policy bundle compiled"); n != 2 {
		t.Errorf("%d compile log lines, want 2 (start, one change):\n%s", n, logs)
	}
}

// With no change in the store, the clock alone drops revocations that
// stopped mattering, at the next refresh epoch.
func TestPublisher_ClockDropsExpiredRevocations(t *testing.T) {
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	nowFn := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	store := newFakeStore()
	store.change(func(s *bundle.Source) { s.TokenRevocations = map[string]time.Time{"jti-1": now.Add(time.Minute)} })
	p, _ := newPublisher(t, store, nowFn)
	start(t, p)
	ring := keyring(t)
	jti := func() map[string]any {
		return read(t, p.Current().Bytes, ring).Data["gaia"].(map[string]any)["revocations"].(map[string]any)["jti"].(map[string]any)
	}
	if _, ok := jti()["jti-1"]; !ok {
		t.Fatal("the live revocation is missing from the first bundle")
	}
	clock.Add(int64(2*time.Minute + bundle.RefreshInterval)) // expired, skew allowance passed, next epoch
	eventually(t, func() bool { _, ok := jti()["jti-1"]; return !ok })
}

func TestPublisher_KeepsTheLastBundleWhileTheStoreFails(t *testing.T) {
	store := newFakeStore()
	p, logs := newPublisher(t, store, time.Now)
	start(t, p)
	first := p.Current()
	store.fail(errors.New("connection refused"))
	reads := store.versionReads.Load()
	eventually(t, func() bool { return store.versionReads.Load() >= reads+5 })
	if p.Current() != first {
		t.Error("the served bundle changed while the store failed")
	}
	if n := strings.Count(logs.String(), "not refreshed"); n != 1 {
		t.Errorf("%d warnings over 5 failed polls, want 1:\n%s", n, logs)
	}
	store.fail(nil)
	store.change(func(s *bundle.Source) { s.Roles["Viewer"] = []string{"inventory.read"} })
	eventually(t, func() bool { return p.Current() != first })
}

func TestPublisher_StopsWithItsContext(t *testing.T) {
	store := newFakeStore()
	p, _ := newPublisher(t, store, time.Now)
	ctx, cancel := context.WithCancel(t.Context())
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the publisher still runs 5s after its context ended")
	}
}

// --- helpers -------------------------------------------------------------

type fakeStore struct {
	mu           sync.Mutex
	src          bundle.Source
	err          error
	reads        atomic.Int64 // source snapshots read
	versionReads atomic.Int64
}

func newFakeStore() *fakeStore {
	return &fakeStore{src: bundle.Source{Version: 1, Roles: maps.Clone(source.Roles)}}
}

func (f *fakeStore) BundleVersion(context.Context) (int64, error) {
	f.versionReads.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.src.Version, f.err
}

func (f *fakeStore) BundleSourceTx(_ context.Context, fn func(bundle.SourceTx) error) error {
	f.reads.Add(1)
	f.mu.Lock()
	src, err := f.src, f.err
	src.Roles = maps.Clone(f.src.Roles)
	src.TokenRevocations = maps.Clone(f.src.TokenRevocations)
	src.SubjectRevocations = maps.Clone(f.src.SubjectRevocations)
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return fn(snapshot{src})
}

// snapshot is one read of a fakeStore's source.
type snapshot struct{ src bundle.Source }

func (s snapshot) Version(context.Context) (int64, error)             { return s.src.Version, nil }
func (s snapshot) Roles(context.Context) (map[string][]string, error) { return s.src.Roles, nil }
func (s snapshot) SubjectRevocations(context.Context) (map[string]time.Time, error) {
	return s.src.SubjectRevocations, nil
}
func (s snapshot) TokenRevocations(context.Context) (map[string]time.Time, error) {
	return s.src.TokenRevocations, nil
}

// change applies edit and moves the version, as a committed write does.
func (f *fakeStore) change(edit func(*bundle.Source)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	edit(&f.src)
	f.src.Version++
}

func (f *fakeStore) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// syncBuffer collects log lines written from the publisher's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newPublisher(t *testing.T, store bundle.Store, now func() time.Time) (*bundle.Publisher, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	p := bundle.NewPublisher(store, newCompiler(t), keyring(t), now, slog.New(slog.NewTextHandler(logs, nil)))
	bundle.SetPollInterval(p, 10*time.Millisecond)
	return p, logs
}

// start starts p until the test ends and waits for it to stop then.
func start(t *testing.T, p *bundle.Publisher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.Start(ctx); err != nil {
		cancel()
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { cancel(); <-p.Done() })
}

// eventually waits up to 5 seconds for cond.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
