package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/gaia-platform/iam/internal/bundle"
)

// BundleVersion reads the change counter the triggers of migration 0002
// move.
func (s *Store) BundleVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.read.QueryRowContext(ctx, `SELECT version FROM bundle_state WHERE id = 1`).Scan(&v)
	return v, err
}

// BundleSource reads the counter, the roles and the revocations in one
// read transaction: one WAL snapshot, so the version names exactly the
// state read with it.
func (s *Store) BundleSource(ctx context.Context) (bundle.Source, error) {
	src := bundle.Source{Roles: map[string][]string{}, SubjectRevocations: map[string]time.Time{}, TokenRevocations: map[string]time.Time{}}
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT version FROM bundle_state WHERE id = 1`).Scan(&src.Version); err != nil {
			return err
		}
		roles, err := scanRoles(tx.QueryContext(ctx, roleQuery+` ORDER BY r.name, rp.permission_code`))
		if err != nil {
			return err
		}
		for _, r := range roles {
			src.Roles[r.Name] = r.Permissions
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
func readTimes(ctx context.Context, tx *sql.Tx, query string, into map[string]time.Time) error {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var at time.Time
		if err := rows.Scan(&key, timeCol{&at}); err != nil {
			return err
		}
		into[key] = at
	}
	return rows.Err()
}
