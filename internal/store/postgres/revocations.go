package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gaia-platform/iam/internal/audit"
)

// RevokeToken voids one token until it expires. A jti names one token with
// one expiry, so revoking it again changes nothing.
func (s *Store) RevokeToken(ctx context.Context, jti string, expiresAt time.Time, ev audit.Event) (bool, error) {
	return s.change(ctx, ev, func(tx pgx.Tx) (bool, error) {
		tag, err := tx.Exec(ctx, `INSERT INTO token_revocations (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`, jti, expiresAt)
		return err == nil && tag.RowsAffected() == 1, err
	})
}

// RevokeSubject voids every token of subject issued at or before at.
func (s *Store) RevokeSubject(ctx context.Context, subject uuid.UUID, at time.Time, ev audit.Event) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := revokeSubject(ctx, tx, subject, at); err != nil {
			return err
		}
		return insertAudit(ctx, &s.appends, tx, ev)
	})
}

// revokeSubject voids a user's tokens issued at or before at. It runs in
// the transaction that takes authority away, so that the loss and the
// revocation commit together; an earlier time never replaces a later one.
func revokeSubject(ctx context.Context, tx pgx.Tx, user uuid.UUID, at time.Time) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO subject_revocations (subject, not_before) VALUES ($1, $2)
		ON CONFLICT (subject) DO UPDATE SET not_before = GREATEST(subject_revocations.not_before, EXCLUDED.not_before)`,
		user.String(), at)
	return err
}
