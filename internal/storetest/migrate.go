package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
)

// Migrator is a store that migrates its own database.
type Migrator interface {
	authz.Store
	Migrate() (uint, error)
}

// MigrateConcurrently migrates one new database from several stores at
// once, as replicas, or the server and the CLI, starting together do: all
// succeed and report one version, and the migrations ran once.
func MigrateConcurrently(t *testing.T, stores ...Migrator) {
	t.Helper()
	versions := make([]uint, len(stores))
	errs := make([]error, len(stores))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			<-start
			versions[i], errs[i] = s.Migrate()
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("store %d: Migrate: %v", i, err)
		}
		if versions[i] == 0 || versions[i] != versions[0] {
			t.Errorf("versions %v, want one non-zero version", versions)
		}
	}
	wantAdminRole(t, stores[0])
}

// MigrateAgain seeds the migrated store s, then migrates its database
// again from s and from other, another store on it: both report one
// version and leave the seeded data alone.
func MigrateAgain(t *testing.T, s, other Migrator) {
	t.Helper()
	if _, err := authz.ApplySeed(t.Context(), s, authz.Seed{
		Permissions: []authz.SeedPermission{{Code: "shop.read"}},
		Roles:       []authz.SeedRole{{Name: "Clerk", Permissions: []string{"shop.read"}}},
	}, audit.CLI, time.Now(), false); err != nil {
		t.Fatal(err)
	}
	first, err := s.Migrate()
	if err != nil {
		t.Fatal(err)
	}
	second, err := other.Migrate()
	if err != nil || second != first {
		t.Fatalf("Migrate again = %d, %v; want %d, nil", second, err, first)
	}
	wantAdminRole(t, s)
	if r, err := s.Role(t.Context(), "Clerk"); err != nil || len(r.Permissions) != 1 {
		t.Errorf("Role(Clerk) after re-migrating = %+v, %v; want it untouched", r, err)
	}
}

func wantAdminRole(t *testing.T, s authz.Store) {
	t.Helper()
	r, err := s.Role(t.Context(), authz.AdminRole)
	if err != nil || !r.Builtin || len(r.Permissions) != 4 {
		t.Errorf("Role(%s) = %+v, %v; want the built-in role with 4 permissions", authz.AdminRole, r, err)
	}
}
