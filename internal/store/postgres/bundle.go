package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaia-platform/iam/internal/bundle"
)

// BundleVersion reads the change counter the triggers of migration 0002
// move.
func (s *Store) BundleVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.pool.QueryRow(ctx, `SELECT version FROM bundle_state WHERE id = 1`).Scan(&v)
	return v, err
}

// BundleSource reads the counter, the roles and the revocations in one
// read-only REPEATABLE READ transaction: one snapshot, so the version
// names exactly the state read with it.
func (s *Store) BundleSource(ctx context.Context) (bundle.Source, error) {
	src := bundle.Source{Roles: map[string][]string{}, SubjectRevocations: map[string]time.Time{}, TokenRevocations: map[string]time.Time{}}
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := pgx.BeginTxFunc(ctx, s.pool, opts, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT version FROM bundle_state WHERE id = 1`).Scan(&src.Version); err != nil {
			return err
		}
		var name string
		var perms []string
		rows, _ := tx.Query(ctx, `
			SELECT r.name, COALESCE(array_agg(rp.permission_code ORDER BY rp.permission_code COLLATE "C")
			                        FILTER (WHERE rp.permission_code IS NOT NULL), '{}')
			FROM roles r LEFT JOIN role_permissions rp ON rp.role_name = r.name GROUP BY r.name`)
		if _, err := pgx.ForEachRow(rows, []any{&name, &perms}, func() error {
			src.Roles[name] = perms
			perms = nil // the next row scans into a slice of its own
			return nil
		}); err != nil {
			return err
		}
		if err := readTimes(ctx, tx, `SELECT subject, not_before FROM subject_revocations`, src.SubjectRevocations); err != nil {
			return err
		}
		return readTimes(ctx, tx, `SELECT jti, expires_at FROM token_revocations`, src.TokenRevocations)
	})
	if err != nil {
		return bundle.Source{}, err
	}
	return src, nil
}

// readTimes fills into from a query of (key, time) rows.
func readTimes(ctx context.Context, tx pgx.Tx, sql string, into map[string]time.Time) error {
	var key string
	var at time.Time
	rows, _ := tx.Query(ctx, sql)
	_, err := pgx.ForEachRow(rows, []any{&key, &at}, func() error {
		into[key] = at
		return nil
	})
	return err
}
