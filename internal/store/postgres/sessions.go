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

// RefreshTx runs fn in one transaction, committing if it returns nil.
// A rotation locks its family row first (RefreshState), so rotations of
// one family queue; the conditional spend is what guarantees one winner
// per token either way.
func (s *Store) RefreshTx(ctx context.Context, fn func(tokens.RefreshTx) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		t := &refreshTx{tx: tx, held: &pgx.Batch{}, appends: &s.appends}
		if err := fn(t); err != nil {
			return err
		}
		return t.send(ctx)
	})
}

// refreshTx is tokens.RefreshTx on a pgx transaction. Writes that return
// nothing are held back and travel with the next statement that does, or
// with the audit event: a rotation's writes and its audit event are one
// round trip.
type refreshTx struct {
	tx      pgx.Tx
	held    *pgx.Batch
	appends *audit.Appends
}

// send sends the writes held back so far.
func (t *refreshTx) send(ctx context.Context) error {
	if t.held.Len() == 0 {
		return nil
	}
	return t.tx.SendBatch(ctx, t.take()).Close()
}

// take returns the writes held back so far, to send with a statement of
// its own, and holds no more.
func (t *refreshTx) take() *pgx.Batch {
	b := t.held
	t.held = &pgx.Batch{}
	return b
}

// RefreshState reads what a rotation judges of the token hash, locking
// its family.
func (t *refreshTx) RefreshState(ctx context.Context, hash string) (tokens.RefreshState, error) {
	var st tokens.RefreshState
	if err := t.send(ctx); err != nil {
		return st, err
	}
	var err error
	st.Family, err = scanFamily(t.tx.QueryRow(ctx, `
		SELECT `+familyColumns+`, t.spent_at, u.state = 'active', t.successor_sealed, n.spent_at IS NOT NULL
		FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id JOIN users u ON u.id = f.user_id
		LEFT JOIN refresh_tokens n ON n.hash = t.successor
		WHERE t.hash = $1 FOR UPDATE OF f`, hash), &st.SpentAt, &st.UserActive, &st.Successor, &st.SuccessorSpent)
	return st, err
}

func (t *refreshTx) SpendRefreshToken(ctx context.Context, hash string, at time.Time, next string, sealed []byte) (bool, error) {
	if err := t.send(ctx); err != nil {
		return false, err
	}
	tag, err := t.tx.Exec(ctx, `
		UPDATE refresh_tokens SET spent_at = $2, successor = $3, successor_sealed = $4
		WHERE hash = $1 AND spent_at IS NULL`, hash, at, next, sealed)
	return err == nil && tag.RowsAffected() == 1, err
}

func (t *refreshTx) InsertRefreshFamily(_ context.Context, f tokens.RefreshFamily) error {
	t.held.Queue(`
		INSERT INTO refresh_families (id, user_id, created_at, last_used_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		f.ID, f.UserID, f.CreatedAt, f.LastUsedAt, f.ExpiresAt)
	return nil
}

func (t *refreshTx) InsertRefreshToken(_ context.Context, hash string, family uuid.UUID, at time.Time) error {
	t.held.Queue(`INSERT INTO refresh_tokens (hash, family_id, created_at) VALUES ($1, $2, $3)`, hash, family, at)
	return nil
}

func (t *refreshTx) TouchRefreshFamily(_ context.Context, id uuid.UUID, at time.Time) error {
	t.held.Queue(`UPDATE refresh_families SET last_used_at = $2 WHERE id = $1`, id, at)
	return nil
}

func (t *refreshTx) RevokeRefreshFamily(ctx context.Context, user, id uuid.UUID, at time.Time) (bool, error) {
	if err := t.send(ctx); err != nil {
		return false, err
	}
	tag, err := t.tx.Exec(ctx, `
		UPDATE refresh_families SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL`, id, user, at)
	return err == nil && tag.RowsAffected() == 1, err
}

func (t *refreshTx) RevokeSubject(ctx context.Context, user uuid.UUID, at time.Time) error {
	if err := t.send(ctx); err != nil {
		return err
	}
	return revokeSubject(ctx, t.tx, user, at)
}

func (t *refreshTx) Audit(ctx context.Context, ev audit.Event) error {
	return appendAudit(ctx, t.appends, t.tx, t.take(), ev)
}

// RefreshFamilyByToken finds the family of a token, spent or not.
func (s *Store) RefreshFamilyByToken(ctx context.Context, tokenHash string) (tokens.RefreshFamily, error) {
	return scanFamily(s.pool.QueryRow(ctx, `
		SELECT `+familyColumns+` FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
		WHERE t.hash = $1`, tokenHash))
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
