package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
)

// RevokeToken voids one token until it expires. A jti names one token with
// one expiry, so revoking it again changes nothing.
func (s *Store) RevokeToken(ctx context.Context, jti string, expiresAt time.Time, ev audit.Event) (bool, error) {
	return s.change(ctx, ev, func(tx *sql.Tx) (bool, error) {
		return affectedOne(tx.ExecContext(ctx, `INSERT INTO token_revocations (jti, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING`, jti, ts(expiresAt)))
	})
}

// RevokeSubject voids every token of subject issued at or before at.
func (s *Store) RevokeSubject(ctx context.Context, subject uuid.UUID, at time.Time, ev audit.Event) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := revokeSubject(ctx, tx, subject, at); err != nil {
			return err
		}
		return insertAudit(ctx, &s.appends, tx, ev)
	})
}

// revokeSubject voids a user's tokens issued at or before at. It runs in
// the transaction that takes authority away, so that the loss and the
// revocation commit together; an earlier time never replaces a later one
// (max() of fixed-width timestamps is the later one).
func revokeSubject(ctx context.Context, tx *sql.Tx, user uuid.UUID, at time.Time) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO subject_revocations (subject, not_before) VALUES (?, ?)
		ON CONFLICT (subject) DO UPDATE SET not_before = max(subject_revocations.not_before, excluded.not_before)`,
		user.String(), ts(at))
	return err
}
