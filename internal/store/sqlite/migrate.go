package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	sqlitemigrate "github.com/golang-migrate/migrate/v4/database/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gaia-platform/iam/migrations"
)

// migrateLockWait bounds how long Migrate waits for another process's
// migration to finish.
const migrateLockWait = 2 * time.Minute

// Migrate brings the schema up to date and returns the version reached.
// golang-migrate's SQLite driver locks only within one driver value, so
// Migrate first takes a lock of its own, shared by every process on the
// same file: see lockMigrations.
func (s *Store) Migrate() (uint, error) {
	ctx, cancel := context.WithTimeout(context.Background(), migrateLockWait)
	defer cancel()
	unlock, err := lockMigrations(ctx, s.path)
	if err != nil {
		return 0, fmt.Errorf("migrate: wait for other migrations of %s: %w", s.path, err)
	}
	defer unlock()

	db, err := sql.Open("sqlite", dsn(s.path, writer))
	if err != nil {
		return 0, err
	}
	db.SetMaxOpenConns(1)
	driver, err := sqlitemigrate.WithInstance(db, &sqlitemigrate.Config{MigrationsTable: "schema_migrations"})
	if err != nil {
		db.Close()
		return 0, fmt.Errorf("prepare migrations: %w", err)
	}
	v, err := migrations.Apply(migrations.Sqlite, "sqlite", "sqlite", driver)
	if err != nil {
		return v, err
	}
	if err := s.backfillAuditChain(ctx); err != nil {
		return v, fmt.Errorf("migrate: hash the audit events written before the chain: %w", err)
	}
	return v, nil
}

// lockMigrations holds, until unlock, SQLite's write lock on a small file
// beside the database (path + "-migrate.lock"): the database's own lock
// cannot serve, as the migrations need it for their writes. It stands in
// for the PostgreSQL store's advisory lock. A lock is held by an open
// transaction, so the operating system releases it with a process that
// dies; the empty file stays and is harmless.
func lockMigrations(ctx context.Context, path string) (unlock func(), err error) {
	lockPath := path + "-migrate.lock"
	if err := createOwnerOnly(lockPath); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn(lockPath, locker))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	for {
		// BEGIN IMMEDIATE waits busyTimeoutMS for the lock, then fails
		// with SQLITE_BUSY; a migration may take longer, so try again.
		tx, err := db.BeginTx(ctx, nil)
		if err == nil {
			return func() { _ = tx.Rollback(); db.Close() }, nil
		}
		if sqliteCode(err)&0xff != sqlite3.SQLITE_BUSY || ctx.Err() != nil {
			db.Close()
			return nil, err
		}
	}
}
