package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/golang-migrate/migrate/v4"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/gaia-platform/iam/migrations"
)

// Migrate brings the schema up to date. It holds a PostgreSQL advisory lock
// while it runs, so replicas starting together apply each migration once.
// It returns the schema version reached.
func (s *Store) Migrate() (uint, error) {
	src, err := iofs.New(migrations.Postgres, "postgres")
	if err != nil {
		return 0, err
	}
	db := stdlib.OpenDB(*s.pool.Config().ConnConfig)
	driver, err := pgxmigrate.WithInstance(db, &pgxmigrate.Config{MigrationsTable: "schema_migrations"})
	if err != nil {
		db.Close()
		return 0, fmt.Errorf("prepare migrations: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", driver)
	if err != nil {
		driver.Close()
		return 0, fmt.Errorf("prepare migrations: %w", err)
	}
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	v, dirty, err := m.Version()
	if err != nil {
		return 0, err
	}
	if dirty {
		return v, fmt.Errorf("migration %d failed part-way: fix the schema by hand, then run iam migrate", v)
	}
	if err := s.backfillAuditChain(context.Background()); err != nil {
		return v, fmt.Errorf("migrate: hash the audit events written before the chain: %w", err)
	}
	return v, nil
}
