package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/gaia-platform/iam/internal/bundle"
)

// bundleVersionSQL reads the change counter the triggers of migration
// 0002 move.
const bundleVersionSQL = `SELECT version FROM bundle_state WHERE id = 1`

// BundleVersion reads the change counter.
func (s *Store) BundleVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.read.QueryRowContext(ctx, bundleVersionSQL).Scan(&v)
	return v, err
}

// BundleSourceTx runs fn in one read transaction: one WAL snapshot for
// everything fn reads.
func (s *Store) BundleSourceTx(ctx context.Context, fn func(bundle.SourceTx) error) error {
	return s.readTx(ctx, func(tx *sql.Tx) error { return fn(sourceTx{tx}) })
}

// sourceTx is bundle.SourceTx on a read transaction.
type sourceTx struct{ tx *sql.Tx }

func (t sourceTx) Version(ctx context.Context) (int64, error) {
	var v int64
	err := t.tx.QueryRowContext(ctx, bundleVersionSQL).Scan(&v)
	return v, err
}

func (t sourceTx) Roles(ctx context.Context) (map[string][]string, error) {
	list, err := scanRoles(t.tx.QueryContext(ctx, roleQuery+` ORDER BY r.name, rp.permission_code`))
	if err != nil {
		return nil, err
	}
	roles := make(map[string][]string, len(list))
	for _, r := range list {
		roles[r.Name] = r.Permissions
	}
	return roles, nil
}

func (t sourceTx) SubjectRevocations(ctx context.Context) (map[string]time.Time, error) {
	return readTimes(ctx, t.tx, `SELECT subject, not_before FROM subject_revocations`)
}

func (t sourceTx) TokenRevocations(ctx context.Context) (map[string]time.Time, error) {
	return readTimes(ctx, t.tx, `SELECT jti, expires_at FROM token_revocations`)
}

// readTimes reads a query of (key, time) rows into a map.
func readTimes(ctx context.Context, tx *sql.Tx, query string) (map[string]time.Time, error) {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var key string
		var at time.Time
		if err := rows.Scan(&key, timeCol{&at}); err != nil {
			return nil, err
		}
		out[key] = at
	}
	return out, rows.Err()
}
