package postgres

import (
	"context"
	"fmt"

	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/gaia-platform/iam/migrations"
)

// Migrate brings the schema up to date. It holds a PostgreSQL advisory lock
// while it runs, so replicas starting together apply each migration once.
// It returns the schema version reached.
func (s *Store) Migrate() (uint, error) {
	db := stdlib.OpenDB(*s.pool.Config().ConnConfig)
	driver, err := pgxmigrate.WithInstance(db, &pgxmigrate.Config{MigrationsTable: "schema_migrations"})
	if err != nil {
		db.Close()
		return 0, fmt.Errorf("prepare migrations: %w", err)
	}
	v, err := migrations.Apply(migrations.Postgres, "postgres", "pgx5", driver)
	if err != nil {
		return v, err
	}
	if err := s.backfillAuditChain(context.Background()); err != nil {
		return v, fmt.Errorf("migrate: hash the audit events written before the chain: %w", err)
	}
	return v, nil
}
