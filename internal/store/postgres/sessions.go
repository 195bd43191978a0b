package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/tokens"
)

const familyColumns = `f.id, f.user_id, f.created_at, f.last_used_at, f.expires_at, f.revoked_at`

func scanFamily(row pgx.Row, extra ...any) (tokens.RefreshFamily, error) {
	var f tokens.RefreshFamily
	err := row.Scan(append([]any{&f.ID, &f.UserID, &f.CreatedAt, &f.LastUsedAt, &f.ExpiresAt, &f.RevokedAt}, extra...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, tokens.ErrInvalidGrant
	}
	return f, err
}

// CreateRefreshFamily stores a new family with its first token.
func (s *Store) CreateRefreshFamily(ctx context.Context, f tokens.RefreshFamily, tokenHash string, ev audit.Event) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`
			INSERT INTO refresh_families (id, user_id, created_at, last_used_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			f.ID, f.UserID, f.CreatedAt, f.LastUsedAt, f.ExpiresAt)
		queueRefreshToken(b, tokenHash, f.ID, f.CreatedAt)
		return appendAudit(ctx, tx, b, ev)
	})
}

// queueRefreshToken queues storing a token of family in b.
func queueRefreshToken(b *pgx.Batch, hash string, family uuid.UUID, at time.Time) {
	b.Queue(`INSERT INTO refresh_tokens (hash, family_id, created_at) VALUES ($1, $2, $3)`, hash, family, at)
}

// RotateRefreshToken spends a token and stores its successor. The family
// row is locked first, so rotations of one family queue; the conditional
// UPDATE is what guarantees one winner per token either way.
func (s *Store) RotateRefreshToken(ctx context.Context, r tokens.RefreshRotation) (tokens.RefreshFamily, []byte, error) {
	var st tokens.RefreshState
	var verdict tokens.RefreshVerdict
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if st, err = refreshState(ctx, tx, r.Presented); err != nil {
			return err
		}
		verdict = r.Judge(st)
		if verdict == tokens.RotateToken {
			tag, err := tx.Exec(ctx, `
				UPDATE refresh_tokens SET spent_at = $2, successor = $3, successor_sealed = $4
				WHERE hash = $1 AND spent_at IS NULL`, r.Presented, r.At, r.Next, r.NextSealed)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 { // another rotation spent it first: judge what it left
				if st, err = refreshState(ctx, tx, r.Presented); err != nil {
					return err
				}
				verdict = r.Judge(st)
			}
		}
		f := st.Family
		switch verdict {
		case tokens.RefuseToken:
			return nil
		case tokens.RevokeFamily:
			if _, err := tx.Exec(ctx, `UPDATE refresh_families SET revoked_at = $2 WHERE id = $1`, f.ID, r.At); err != nil {
				return err
			}
			if err := revokeSubject(ctx, tx, f.UserID, r.At); err != nil {
				return err
			}
			return insertAudit(ctx, tx, r.Event(f, verdict))
		}
		st.Family.LastUsedAt = r.At
		b := &pgx.Batch{}
		if verdict == tokens.RotateToken {
			queueRefreshToken(b, r.Next, f.ID, r.At)
		}
		b.Queue(`UPDATE refresh_families SET last_used_at = $2 WHERE id = $1`, f.ID, r.At)
		return appendAudit(ctx, tx, b, r.Event(st.Family, verdict))
	})
	if err != nil {
		return tokens.RefreshFamily{}, nil, err
	}
	return tokens.Outcome(st, verdict)
}

// refreshState reads what a rotation judges of the token hash, locking
// its family.
func refreshState(ctx context.Context, tx pgx.Tx, hash string) (tokens.RefreshState, error) {
	var st tokens.RefreshState
	var err error
	st.Family, err = scanFamily(tx.QueryRow(ctx, `
		SELECT `+familyColumns+`, t.spent_at, u.state = 'active', t.successor_sealed, n.spent_at IS NOT NULL
		FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id JOIN users u ON u.id = f.user_id
		LEFT JOIN refresh_tokens n ON n.hash = t.successor
		WHERE t.hash = $1 FOR UPDATE OF f`, hash), &st.SpentAt, &st.UserActive, &st.Successor, &st.SuccessorSpent)
	return st, err
}

// RefreshFamilyByToken finds the family of a token, spent or not.
func (s *Store) RefreshFamilyByToken(ctx context.Context, tokenHash string) (tokens.RefreshFamily, error) {
	return scanFamily(s.pool.QueryRow(ctx, `
		SELECT `+familyColumns+` FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
		WHERE t.hash = $1`, tokenHash))
}

// RevokeRefreshFamily ends one of user's families.
func (s *Store) RevokeRefreshFamily(ctx context.Context, user, id uuid.UUID, at time.Time, ev audit.Event) (bool, error) {
	return s.change(ctx, ev, func(tx pgx.Tx) (bool, error) {
		tag, err := tx.Exec(ctx, `
			UPDATE refresh_families SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL`, id, user, at)
		return err == nil && tag.RowsAffected() == 1, err
	})
}

// RefreshFamilies lists user's unrevoked, unexpired families, newest first.
func (s *Store) RefreshFamilies(ctx context.Context, user uuid.UUID, at time.Time) ([]tokens.RefreshFamily, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+familyColumns+` FROM refresh_families f
		WHERE f.user_id = $1 AND f.revoked_at IS NULL AND f.expires_at > $2
		ORDER BY f.created_at DESC, f.id`, user, at)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (tokens.RefreshFamily, error) { return scanFamily(row) })
}
