package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaia-platform/iam/internal/bundle"
)

// bundleVersionSQL reads the change counter the triggers of migration
// 0002 move.
const bundleVersionSQL = `SELECT version FROM bundle_state WHERE id = 1`

// BundleVersion reads the change counter.
func (s *Store) BundleVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.pool.QueryRow(ctx, bundleVersionSQL).Scan(&v)
	return v, err
}

// BundleSourceTx runs fn in one read-only REPEATABLE READ transaction:
// one snapshot for everything fn reads.
func (s *Store) BundleSourceTx(ctx context.Context, fn func(bundle.SourceTx) error) error {
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	return pgx.BeginTxFunc(ctx, s.pool, opts, func(tx pgx.Tx) error { return fn(sourceTx{tx}) })
}

// sourceTx is bundle.SourceTx on a pgx transaction.
type sourceTx struct{ tx pgx.Tx }

func (t sourceTx) Version(ctx context.Context) (int64, error) {
	var v int64
	err := t.tx.QueryRow(ctx, bundleVersionSQL).Scan(&v)
	return v, err
}

func (t sourceTx) Roles(ctx context.Context) (map[string][]string, error) {
	roles := map[string][]string{}
	var name string
	var perms []string
	rows, _ := t.tx.Query(ctx, `
		SELECT r.name, COALESCE(array_agg(rp.permission_code ORDER BY rp.permission_code COLLATE "C")
		                        FILTER (WHERE rp.permission_code IS NOT NULL), '{}')
		FROM roles r LEFT JOIN role_permissions rp ON rp.role_name = r.name GROUP BY r.name`)
	_, err := pgx.ForEachRow(rows, []any{&name, &perms}, func() error {
		roles[name] = perms
		perms = nil // the next row scans into a slice of its own
		return nil
	})
	return roles, err
}

func (t sourceTx) SubjectRevocations(ctx context.Context) (map[string]time.Time, error) {
	return readTimes(ctx, t.tx, `SELECT subject, not_before FROM subject_revocations`)
}

func (t sourceTx) TokenRevocations(ctx context.Context) (map[string]time.Time, error) {
	return readTimes(ctx, t.tx, `SELECT jti, expires_at FROM token_revocations`)
}

// readTimes reads a query of (key, time) rows into a map.
func readTimes(ctx context.Context, tx pgx.Tx, sql string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	var key string
	var at time.Time
	rows, _ := tx.Query(ctx, sql)
	_, err := pgx.ForEachRow(rows, []any{&key, &at}, func() error {
		out[key] = at
		return nil
	})
	return out, err
}
