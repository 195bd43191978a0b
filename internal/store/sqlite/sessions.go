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

// RefreshTx runs fn in one write transaction, committing if it returns
// nil. Write transactions are IMMEDIATE, so rotations queue on the write
// lock; the conditional spend guarantees one winner per token regardless.
func (s *Store) RefreshTx(ctx context.Context, fn func(tokens.RefreshTx) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return fn(refreshTx{tx, &s.appends}) })
}

// refreshTx is tokens.RefreshTx on a write transaction.
type refreshTx struct {
	tx      *sql.Tx
	appends *audit.Appends
}

func (t refreshTx) exec(ctx context.Context, query string, args ...any) error {
	_, err := t.tx.ExecContext(ctx, query, args...)
	return err
}

func (t refreshTx) RefreshState(ctx context.Context, hash string) (tokens.RefreshState, error) {
	var st tokens.RefreshState
	var err error
	st.Family, err = scanFamily(t.tx.QueryRowContext(ctx, `
		SELECT `+familyColumns+`, t.spent_at, u.state = 'active', t.successor_sealed, n.spent_at IS NOT NULL
		FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id JOIN users u ON u.id = f.user_id
		LEFT JOIN refresh_tokens n ON n.hash = t.successor
		WHERE t.hash = ?`, hash), nullTimeCol{&st.SpentAt}, &st.UserActive, &st.Successor, &st.SuccessorSpent)
	return st, err
}

func (t refreshTx) SpendRefreshToken(ctx context.Context, hash string, at time.Time, next string, sealed []byte) (bool, error) {
	return affectedOne(t.tx.ExecContext(ctx, `
		UPDATE refresh_tokens SET spent_at = ?, successor = ?, successor_sealed = ?
		WHERE hash = ? AND spent_at IS NULL`, ts(at), next, sealed, hash))
}

func (t refreshTx) InsertRefreshFamily(ctx context.Context, f tokens.RefreshFamily) error {
	return t.exec(ctx, `
		INSERT INTO refresh_families (id, user_id, created_at, last_used_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		f.ID.String(), f.UserID.String(), ts(f.CreatedAt), ts(f.LastUsedAt), ts(f.ExpiresAt))
}

func (t refreshTx) InsertRefreshToken(ctx context.Context, hash string, family uuid.UUID, at time.Time) error {
	return t.exec(ctx, `INSERT INTO refresh_tokens (hash, family_id, created_at) VALUES (?, ?, ?)`, hash, family.String(), ts(at))
}

func (t refreshTx) TouchRefreshFamily(ctx context.Context, id uuid.UUID, at time.Time) error {
	return t.exec(ctx, `UPDATE refresh_families SET last_used_at = ? WHERE id = ?`, ts(at), id.String())
}

func (t refreshTx) RevokeRefreshFamily(ctx context.Context, user, id uuid.UUID, at time.Time) (bool, error) {
	return affectedOne(t.tx.ExecContext(ctx, `
		UPDATE refresh_families SET revoked_at = ?3 WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL`,
		id.String(), user.String(), ts(at)))
}

func (t refreshTx) RevokeSubject(ctx context.Context, user uuid.UUID, at time.Time) error {
	return revokeSubject(ctx, t.tx, user, at)
}

func (t refreshTx) Audit(ctx context.Context, ev audit.Event) error {
	return insertAudit(ctx, t.appends, t.tx, ev)
}

// RefreshFamilyByToken finds the family of a token, spent or not.
func (s *Store) RefreshFamilyByToken(ctx context.Context, tokenHash string) (tokens.RefreshFamily, error) {
	return scanFamily(s.read.QueryRowContext(ctx, `
		SELECT `+familyColumns+` FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
		WHERE t.hash = ?`, tokenHash))
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
