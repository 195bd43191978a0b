package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/tokens"
)

// signingKeyLock serialises key generation and rotation across replicas
// and management commands.
const signingKeyLock = 0x6761_6961_6b65_7973 // "gaiakeys"

const signingKeyColumns = `kid, private_key_pem, created_at, activates_at, retire_after`

// KeyTx runs fn in one transaction under the signing-key advisory lock,
// committing if it returns nil: replicas starting at the same time agree
// on one first key, and rotations and prunes run one at a time.
func (s *Store) KeyTx(ctx context.Context, fn func(tokens.KeyTx) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(signingKeyLock)); err != nil {
			return err
		}
		return fn(keyTx{tx, &s.appends})
	})
}

// SigningKeys returns every stored key, oldest activation first.
func (s *Store) SigningKeys(ctx context.Context) ([]tokens.StoredKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY activates_at, created_at, kid`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanSigningKey)
}

// keyTx is tokens.KeyTx on a pgx transaction.
type keyTx struct {
	tx      pgx.Tx
	appends *audit.Appends
}

func (t keyTx) NewestSigningKey(ctx context.Context) (tokens.StoredKey, bool, error) {
	rows, err := t.tx.Query(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY created_at DESC, kid LIMIT 1`)
	if err != nil {
		return tokens.StoredKey{}, false, err
	}
	k, err := pgx.CollectOneRow(rows, scanSigningKey)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, false, nil
	}
	return k, err == nil, err
}

func (t keyTx) InsertSigningKey(ctx context.Context, k tokens.StoredKey) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		k.ID, string(k.PrivatePEM), k.CreatedAt, k.ActivatesAt, nullTime(k.RetireAfter))
	return err
}

func (t keyTx) RetireSigningKeys(ctx context.Context, retireAfter time.Time) ([]string, error) {
	return t.kids(ctx, `UPDATE signing_keys SET retire_after = $1 WHERE retire_after IS NULL RETURNING kid`, retireAfter)
}

func (t keyTx) DeleteSigningKeys(ctx context.Context) ([]string, error) {
	return t.kids(ctx, `DELETE FROM signing_keys RETURNING kid`)
}

func (t keyTx) kids(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := t.tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (t keyTx) DeleteRetiredSigningKeys(ctx context.Context, at time.Time) ([]tokens.StoredKey, error) {
	rows, err := t.tx.Query(ctx, `DELETE FROM signing_keys WHERE retire_after <= $1 RETURNING `+signingKeyColumns, at)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanSigningKey)
}

func (t keyTx) Audit(ctx context.Context, ev audit.Event) error {
	return insertAudit(ctx, t.appends, t.tx, ev)
}

func scanSigningKey(row pgx.CollectableRow) (tokens.StoredKey, error) {
	var k tokens.StoredKey
	var retire *time.Time
	err := row.Scan(&k.ID, &k.PrivatePEM, &k.CreatedAt, &k.ActivatesAt, &retire)
	if retire != nil {
		k.RetireAfter = *retire
	}
	return k, err
}

// nullTime is t, or NULL for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
