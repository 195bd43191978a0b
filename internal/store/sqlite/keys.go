package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/tokens"
)

const signingKeyColumns = `kid, private_key_pem, created_at, activates_at, retire_after`

// EnsureSigningKey returns the newest stored signing key, generating one
// when there is none. PostgreSQL takes an advisory lock here; SQLite needs
// none: the write transaction begins IMMEDIATE, holding the database's
// write lock from its first statement, so callers in this process and in
// others on the same file look for a key one at a time and only the first
// generates. Rotations and prunes serialise the same way.
func (s *Store) EnsureSigningKey(ctx context.Context, generate func() (tokens.StoredKey, error)) (tokens.StoredKey, error) {
	var k tokens.StoredKey
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		k, err = scanSigningKey(tx.QueryRowContext(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY created_at DESC, kid LIMIT 1`))
		if !errors.Is(err, sql.ErrNoRows) {
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
	rows, err := s.read.QueryContext(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY activates_at, created_at, kid`)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows *sql.Rows) (tokens.StoredKey, error) { return scanSigningKey(rows) })
}

// RotateSigningKey stores r.Key and retires (or with r.RevokeOthers
// deletes) the keys it replaces, with r's audit events.
func (s *Store) RotateSigningKey(ctx context.Context, r tokens.Rotation) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		q := `UPDATE signing_keys SET retire_after = ? WHERE retire_after IS NULL RETURNING kid`
		args := []any{ts(r.RetireAfter)}
		if r.RevokeOthers {
			q, args = `DELETE FROM signing_keys RETURNING kid`, nil
		}
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		replaced, err := collect(rows, func(rows *sql.Rows) (string, error) {
			var kid string
			return kid, rows.Scan(&kid)
		})
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
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `DELETE FROM signing_keys WHERE retire_after <= ? RETURNING `+signingKeyColumns, ts(now))
		if err != nil {
			return err
		}
		if pruned, err = collect(rows, func(rows *sql.Rows) (tokens.StoredKey, error) { return scanSigningKey(rows) }); err != nil {
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

func insertSigningKey(ctx context.Context, tx *sql.Tx, k tokens.StoredKey) error {
	var retire *time.Time
	if !k.RetireAfter.IsZero() {
		retire = &k.RetireAfter
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES (?, ?, ?, ?, ?)`,
		k.ID, string(k.PrivatePEM), ts(k.CreatedAt), ts(k.ActivatesAt), nullTS(retire))
	return err
}

func scanSigningKey(row interface{ Scan(...any) error }) (tokens.StoredKey, error) {
	var k tokens.StoredKey
	var pemText string
	var retire *time.Time
	err := row.Scan(&k.ID, &pemText, timeCol{&k.CreatedAt}, timeCol{&k.ActivatesAt}, nullTimeCol{&retire})
	k.PrivatePEM = []byte(pemText)
	if retire != nil {
		k.RetireAfter = *retire
	}
	return k, err
}
