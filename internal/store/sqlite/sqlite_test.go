package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/bundle"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/store/sqlite"
	"github.com/gaia-platform/iam/internal/storetest"
	"github.com/gaia-platform/iam/internal/tokens"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return openMigrated(t, dbPath(t))
	})
}

func TestMigrate_ConcurrentStoresApplyOnce(t *testing.T) {
	path := dbPath(t)
	storetest.MigrateConcurrently(t, open(t, path), open(t, path), open(t, path))
}

func TestMigrate_Idempotent(t *testing.T) {
	path := dbPath(t)
	storetest.MigrateAgain(t, openMigrated(t, path), open(t, path))
}

// The triggers hold for any client of the file, not just for the store:
// here a plain connection, as the sqlite3 shell would open it.
func TestAuditEvents_AppendOnly(t *testing.T) {
	path := dbPath(t)
	s := openMigrated(t, path)
	ev := audit.Event{At: time.Now(), Actor: audit.CLI, Action: audit.UserCreated, Target: "user:1"}
	if err := s.AppendAudit(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, stmt := range []string{
		`UPDATE audit_events SET actor = 'mallory'`,
		`DELETE FROM audit_events`,
		`DELETE FROM audit_events WHERE id = 1`,
	} {
		_, err := db.ExecContext(t.Context(), stmt)
		if err == nil || !strings.Contains(err.Error(), "audit_events is append-only") {
			t.Errorf("%s: %v, want the append-only trigger's error", stmt, err)
		}
	}
	evs, err := s.AuditEvents(t.Context(), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Actor != audit.CLI {
		t.Errorf("audit events after tampering = %+v, want the one event unchanged", evs)
	}
}

// Two Store values on one file stand for the server and the CLI beside it:
// their write transactions queue on SQLite's lock instead of failing with
// "database is locked".
func TestTwoStoresOnOneFile_WriteConcurrently(t *testing.T) {
	path := dbPath(t)
	stores := []*sqlite.Store{openMigrated(t, path), open(t, path)}
	if _, err := authz.ApplySeed(t.Context(), stores[0], authz.Seed{
		Permissions: []authz.SeedPermission{{Code: "shop.read"}, {Code: "shop.write"}},
		Roles:       []authz.SeedRole{{Name: "Clerk"}},
	}, audit.CLI, time.Now(), false); err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, len(stores)*workers*rounds*5)
	for si, s := range stores {
		for w := range workers {
			wg.Go(func() {
				ctx := t.Context()
				for r := range rounds {
					u := identity.User{ID: uuid.New(), Username: fmt.Sprintf("u%d-%d-%d", si, w, r), State: identity.StateActive,
						CreatedAt: time.Now(), UpdatedAt: time.Now()}
					if err := identity.CreateUser(ctx, s, u, []string{"Clerk"}, audit.Event{At: time.Now(), Actor: audit.CLI, Action: audit.UserCreated}); err != nil {
						errs <- fmt.Errorf("store %d CreateUser: %w", si, err)
					}
					perm := []string{"shop.read", "shop.write"}[r%2]
					if _, err := authz.GrantPermission(ctx, s, "Clerk", perm, audit.Event{At: time.Now(), Actor: audit.CLI, Action: audit.RolePermissionAdd}); err != nil {
						errs <- fmt.Errorf("store %d GrantPermission: %w", si, err)
					}
					if _, err := authz.RevokePermission(ctx, s, "Clerk", perm, audit.Event{At: time.Now(), Actor: audit.CLI, Action: audit.RolePermissionDrop}); err != nil {
						errs <- fmt.Errorf("store %d RevokePermission: %w", si, err)
					}
					if _, err := authz.ApplySeed(ctx, s, authz.Seed{Users: []authz.SeedUser{{Username: u.Username}}}, audit.CLI, time.Now(), false); err != nil {
						errs <- fmt.Errorf("store %d ApplySeed: %w", si, err)
					}
					if _, err := bundle.ReadSource(ctx, s); err != nil {
						errs <- fmt.Errorf("store %d BundleSource: %w", si, err)
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	users, err := stores[1].Users(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := len(stores) * workers * rounds; len(users) != want {
		t.Errorf("%d users, want %d", len(users), want)
	}
}

// A write transaction held longer than usual (here: generating the signing
// key) makes writers on other Store values wait, not fail: one that writes
// at once, and one that reads first (a transaction begun DEFERRED would
// fail there with SQLITE_BUSY once the other commits).
func TestTwoStoresOnOneFile_WritersWaitForALongTransaction(t *testing.T) {
	path := dbPath(t)
	a, b, c := openMigrated(t, path), open(t, path), open(t, path)
	inside := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := tokens.EnsureSigningKey(t.Context(), a, func() (tokens.StoredKey, error) {
			close(inside)
			time.Sleep(500 * time.Millisecond)
			return tokens.StoredKey{ID: "kid-1", PrivatePEM: []byte("stand-in"), CreatedAt: time.Now()}, nil
		})
		done <- err
	}()
	<-inside
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := b.AppendAudit(t.Context(), audit.Event{At: time.Now(), Actor: audit.CLI, Action: audit.LoginFailed}); err != nil {
			t.Errorf("AppendAudit while another store holds the write lock: %v", err)
		}
	})
	wg.Go(func() {
		seed := authz.Seed{Permissions: []authz.SeedPermission{{Code: "shop.read"}}}
		if _, err := authz.ApplySeed(t.Context(), c, seed, audit.CLI, time.Now(), false); err != nil {
			t.Errorf("ApplySeed while another store holds the write lock: %v", err)
		}
	})
	wg.Wait()
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("the writers took %v: they did not wait for the other transaction", waited)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	k, err := tokens.EnsureSigningKey(t.Context(), b, func() (tokens.StoredKey, error) {
		t.Error("second store generated a key though one is stored")
		return tokens.StoredKey{}, nil
	})
	if err != nil || k.ID != "kid-1" {
		t.Errorf("EnsureSigningKey on the other store = %q, %v; want kid-1", k.ID, err)
	}
}

func TestOpen_NotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iam.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not sqlite ", 200)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a file that is not a database succeeded")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("Open error %q does not name the file", err)
	}
}

func TestOpen_MissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent", "iam.db")
	s, err := sqlite.Open(context.Background(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open in a missing directory succeeded")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("Open error %q does not name the file", err)
	}
}

func TestOpen_NewFilesAreOwnerOnly(t *testing.T) {
	path := dbPath(t)
	openMigrated(t, path)
	for _, name := range []string{path, path + "-wal", path + "-shm", path + "-migrate.lock"} {
		info, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(name), perm)
		}
	}
}

func dbPath(t *testing.T) string { return filepath.Join(t.TempDir(), "iam.db") }

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func openMigrated(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s := open(t, path)
	if _, err := s.Migrate(); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}
