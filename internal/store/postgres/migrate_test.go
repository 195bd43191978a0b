package postgres_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/golang-migrate/migrate/v4"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/gaia-platform/iam/internal/testkit"
	"github.com/gaia-platform/iam/migrations"
)

// A database an older IAM migrated with golang-migrate's own pgx driver
// (its version table, its session lock) carries on from its version; a
// migration that fails takes every migration of its run back with it, so
// the version table never stays dirty, and the next run, once the cause is
// gone, applies them all.
func TestMigrate_UpgradesAGolangMigrateDatabaseAndRollsBackAFailedRunWhole(t *testing.T) {
	dbURL := testkit.DatabaseURL(t)
	migrateWithGolangMigrate(t, dbURL, 5)
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	// 0007 creates login_failures: with the name taken, 0007 fails after
	// 0006 has run in the same transaction.
	if _, err := conn.Exec(t.Context(), `CREATE TABLE login_failures (id int)`); err != nil {
		t.Fatal(err)
	}

	s := open(t, dbURL)
	if _, err := s.Migrate(); err == nil || !strings.Contains(err.Error(), "migration 7") {
		t.Fatalf("Migrate over a clashing table = %v, want migration 7's error", err)
	}
	if v, dirty := schemaVersion(t, conn); v != 5 || dirty {
		t.Fatalf("after the failed run the version is %d (dirty %v), want 5, clean", v, dirty)
	}
	var activates bool
	if err := conn.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_name = 'signing_keys' AND column_name = 'activates_at')`).Scan(&activates); err != nil || activates {
		t.Fatalf("migration 6's column exists after the failed run (%v): the run was not rolled back whole", err)
	}

	if _, err := conn.Exec(t.Context(), `DROP TABLE login_failures`); err != nil {
		t.Fatal(err)
	}
	v, err := s.Migrate()
	if err != nil {
		t.Fatalf("Migrate once the clash is gone: %v", err)
	}
	if got, dirty := schemaVersion(t, conn); got != int(v) || dirty || v <= 7 {
		t.Fatalf("version %d (dirty %v), Migrate said %d; want the newest, clean", got, dirty, v)
	}
}

// migrateWithGolangMigrate applies the first n PostgreSQL migrations as
// the IAM did before it had its own driver.
func migrateWithGolangMigrate(t *testing.T, dbURL string, n int) {
	t.Helper()
	entries, err := fs.ReadDir(migrations.Postgres, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	first := fstest.MapFS{}
	for _, e := range entries[:n] {
		b, err := fs.ReadFile(migrations.Postgres, "postgres/"+e.Name())
		if err != nil {
			t.Fatal(err)
		}
		first[e.Name()] = &fstest.MapFile{Data: b}
	}
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	driver, err := pgxmigrate.WithInstance(db, &pgxmigrate.Config{MigrationsTable: "schema_migrations"})
	if err != nil {
		t.Fatal(err)
	}
	src, err := iofs.New(first, ".")
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", driver)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Up(); err != nil {
		t.Fatalf("golang-migrate up to %d: %v", n, err)
	}
}

func schemaVersion(t *testing.T, conn *pgx.Conn) (int, bool) {
	t.Helper()
	var v int
	var dirty bool
	if err := conn.QueryRow(t.Context(), `SELECT version, dirty FROM schema_migrations`).Scan(&v, &dirty); err != nil {
		t.Fatal(err)
	}
	return v, dirty
}
