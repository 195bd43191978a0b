package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/tokens"
)

const familyColumns = `f.id, f.user_id, f.created_at, f.last_used_at, f.expires_at, f.revoked_at`

func scanFamily(row scanner, extra ...any) (tokens.RefreshFamily, error) {
	var f tokens.RefreshFamily
	err := row.Scan(append([]any{&f.ID, &f.UserID, timeCol{&f.CreatedAt}, timeCol{&f.LastUsedAt},
		timeCol{&f.ExpiresAt}, nullTimeCol{&f.RevokedAt}}, extra...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return f, tokens.ErrInvalidGrant
	}
	return f, err
}

// CreateRefreshFamily stores a new family with its first token.
func (s *Store) CreateRefreshFamily(ctx context.Context, f tokens.RefreshFamily, tokenHash string, ev audit.Event) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO refresh_families (id, user_id, created_at, last_used_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			f.ID.String(), f.UserID.String(), ts(f.CreatedAt), ts(f.LastUsedAt), ts(f.ExpiresAt)); err != nil {
			return err
		}
		if err := insertRefreshToken(ctx, tx, tokenHash, f.ID, f.CreatedAt); err != nil {
			return err
		}
		return insertAudit(ctx, tx, ev)
	})
}

func insertRefreshToken(ctx context.Context, tx *sql.Tx, hash string, family uuid.UUID, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, family_id, created_at) VALUES (?, ?, ?)`, hash, family.String(), ts(at))
	return err
}

// RotateRefreshToken spends a token and stores its successor. Write
// transactions are IMMEDIATE, so rotations queue on the write lock; the
// conditional UPDATE guarantees one winner per token regardless.
func (s *Store) RotateRefreshToken(ctx context.Context, r tokens.RefreshRotation) (tokens.RefreshFamily, []byte, error) {
	var st tokens.RefreshState
	var verdict tokens.RefreshVerdict
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if st, err = refreshState(ctx, tx, r.Presented); err != nil {
			return err
		}
		verdict = r.Judge(st)
		if verdict == tokens.RotateToken {
			won, err := affectedOne(tx.ExecContext(ctx, `
				UPDATE refresh_tokens SET spent_at = ?, successor = ?, successor_sealed = ?
				WHERE hash = ? AND spent_at IS NULL`, ts(r.At), r.Next, r.NextSealed, r.Presented))
			if err != nil {
				return err
			}
			if !won { // another rotation spent it first: judge what it left
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
			if _, err := tx.ExecContext(ctx, `UPDATE refresh_families SET revoked_at = ? WHERE id = ?`, ts(r.At), f.ID.String()); err != nil {
				return err
			}
			if err := revokeSubject(ctx, tx, f.UserID, r.At); err != nil {
				return err
			}
			return insertAudit(ctx, tx, r.Event(f, verdict))
		}
		if verdict == tokens.RotateToken {
			if err := insertRefreshToken(ctx, tx, r.Next, f.ID, r.At); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_families SET last_used_at = ? WHERE id = ?`, ts(r.At), f.ID.String()); err != nil {
			return err
		}
		st.Family.LastUsedAt = r.At
		return insertAudit(ctx, tx, r.Event(st.Family, verdict))
	})
	if err != nil {
		return tokens.RefreshFamily{}, nil, err
	}
	return tokens.Outcome(st, verdict)
}

// refreshState reads what a rotation judges of the token hash.
func refreshState(ctx context.Context, tx *sql.Tx, hash string) (tokens.RefreshState, error) {
	var st tokens.RefreshState
	var err error
	st.Family, err = scanFamily(tx.QueryRowContext(ctx, `
		SELECT `+familyColumns+`, t.spent_at, u.state = 'active', t.successor_sealed, n.spent_at IS NOT NULL
		FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id JOIN users u ON u.id = f.user_id
		LEFT JOIN refresh_tokens n ON n.hash = t.successor
		WHERE t.hash = ?`, hash), nullTimeCol{&st.SpentAt}, &st.UserActive, &st.Successor, &st.SuccessorSpent)
	return st, err
}

// RefreshFamilyByToken finds the family of a token, spent or not.
func (s *Store) RefreshFamilyByToken(ctx context.Context, tokenHash string) (tokens.RefreshFamily, error) {
	return scanFamily(s.read.QueryRowContext(ctx, `
		SELECT `+familyColumns+` FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
		WHERE t.hash = ?`, tokenHash))
}

// RevokeRefreshFamily ends one of user's families.
func (s *Store) RevokeRefreshFamily(ctx context.Context, user, id uuid.UUID, at time.Time, ev audit.Event) (bool, error) {
	return s.change(ctx, ev, func(tx *sql.Tx) (bool, error) {
		return affectedOne(tx.ExecContext(ctx, `
			UPDATE refresh_families SET revoked_at = ?3 WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL`,
			id.String(), user.String(), ts(at)))
	})
}

// RefreshFamilies lists user's unrevoked, unexpired families, newest first.
func (s *Store) RefreshFamilies(ctx context.Context, user uuid.UUID, at time.Time) ([]tokens.RefreshFamily, error) {
	rows, err := s.read.QueryContext(ctx, `
		SELECT `+familyColumns+` FROM refresh_families f
		WHERE f.user_id = ? AND f.revoked_at IS NULL AND f.expires_at > ?
		ORDER BY f.created_at DESC, f.id`, user.String(), ts(at))
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows *sql.Rows) (tokens.RefreshFamily, error) { return scanFamily(rows) })
}
