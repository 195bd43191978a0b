package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/tokens"
)

// signingKeyLock serialises key generation across replicas.
const signingKeyLock = 0x6761_6961_6b65_7973 // "gaiakeys"

// EnsureSigningKey returns the newest stored signing key, generating one
// under an advisory lock when there is none, so that replicas starting at
// the same time agree on one key.
func (s *Store) EnsureSigningKey(ctx context.Context, generate func() (tokens.StoredKey, error)) (tokens.StoredKey, error) {
	var k tokens.StoredKey
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(signingKeyLock)); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT kid, private_key_pem, created_at FROM signing_keys ORDER BY created_at DESC, kid LIMIT 1`).
			Scan(&k.ID, &k.PrivatePEM, &k.CreatedAt)
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if k, err = generate(); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO signing_keys (kid, private_key_pem, created_at) VALUES ($1, $2, $3)`, k.ID, string(k.PrivatePEM), k.CreatedAt); err != nil {
			return err
		}
		return insertAudit(ctx, tx, audit.Event{At: k.CreatedAt, Actor: "system", Action: audit.SigningKeyCreated, Target: "signing_key:" + k.ID})
	})
	return k, err
}
