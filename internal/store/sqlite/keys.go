package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/tokens"
)

// EnsureSigningKey returns the newest stored signing key, generating one
// when there is none. PostgreSQL takes an advisory lock here; SQLite needs
// none: the write transaction begins IMMEDIATE, holding the database's
// write lock from its first statement, so callers in this process and in
// others on the same file look for a key one at a time and only the first
// generates.
func (s *Store) EnsureSigningKey(ctx context.Context, generate func() (tokens.StoredKey, error)) (tokens.StoredKey, error) {
	var k tokens.StoredKey
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var pemText string
		err := tx.QueryRowContext(ctx, `SELECT kid, private_key_pem, created_at FROM signing_keys ORDER BY created_at DESC, kid LIMIT 1`).
			Scan(&k.ID, &pemText, timeCol{&k.CreatedAt})
		if !errors.Is(err, sql.ErrNoRows) {
			k.PrivatePEM = []byte(pemText)
			return err
		}
		if k, err = generate(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (kid, private_key_pem, created_at) VALUES (?, ?, ?)`, k.ID, string(k.PrivatePEM), ts(k.CreatedAt)); err != nil {
			return err
		}
		return insertAudit(ctx, tx, audit.Event{At: k.CreatedAt, Actor: "system", Action: audit.SigningKeyCreated, Target: "signing_key:" + k.ID})
	})
	return k, err
}
