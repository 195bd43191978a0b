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

// EnsureSigningKey returns the newest stored signing key, generating one
// under an advisory lock when there is none, so that replicas starting at
// the same time agree on one key.
func (s *Store) EnsureSigningKey(ctx context.Context, generate func() (tokens.StoredKey, error)) (tokens.StoredKey, error) {
	var k tokens.StoredKey
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockSigningKeys(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY created_at DESC, kid LIMIT 1`)
		if err != nil {
			return err
		}
		k, err = pgx.CollectOneRow(rows, scanSigningKey)
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if k, err = generate(); err != nil {
			return err
		}
		if err := insertSigningKey(ctx, tx, k); err != nil {
			return err
		}
		return insertAudit(ctx, tx, audit.Event{At: k.CreatedAt, Actor: "system", Action: audit.SigningKeyCreated, Target: tokens.KeyTarget(k.ID)})
	})
	return k, err
}

// SigningKeys returns every stored key, oldest activation first.
func (s *Store) SigningKeys(ctx context.Context) ([]tokens.StoredKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY activates_at, created_at, kid`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanSigningKey)
}

// RotateSigningKey stores r.Key and retires (or with r.RevokeOthers
// deletes) the keys it replaces, with r's audit events.
func (s *Store) RotateSigningKey(ctx context.Context, r tokens.Rotation) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockSigningKeys(ctx, tx); err != nil {
			return err
		}
		q := `UPDATE signing_keys SET retire_after = $1 WHERE retire_after IS NULL RETURNING kid`
		args := []any{r.RetireAfter}
		if r.RevokeOthers {
			q, args = `DELETE FROM signing_keys RETURNING kid`, nil
		}
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		replaced, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if err := insertSigningKey(ctx, tx, r.Key); err != nil {
			return err
		}
		for _, ev := range r.Events(replaced) {
			if err := insertAudit(ctx, tx, ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// PruneSigningKeys deletes the keys retired at or before now.
func (s *Store) PruneSigningKeys(ctx context.Context, now time.Time, actor string) ([]tokens.StoredKey, error) {
	var pruned []tokens.StoredKey
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockSigningKeys(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `DELETE FROM signing_keys WHERE retire_after <= $1 RETURNING `+signingKeyColumns, now)
		if err != nil {
			return err
		}
		if pruned, err = pgx.CollectRows(rows, scanSigningKey); err != nil {
			return err
		}
		for _, k := range pruned {
			if err := insertAudit(ctx, tx, tokens.PruneEvent(k, now, actor)); err != nil {
				return err
			}
		}
		return nil
	})
	return pruned, err
}

func lockSigningKeys(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(signingKeyLock))
	return err
}

func insertSigningKey(ctx context.Context, tx pgx.Tx, k tokens.StoredKey) error {
	_, err := tx.Exec(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		k.ID, string(k.PrivatePEM), k.CreatedAt, k.ActivatesAt, nullTime(k.RetireAfter))
	return err
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
