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

// KeyTx runs fn in one write transaction, committing if it returns nil.
// PostgreSQL takes an advisory lock here; SQLite needs none: the write
// transaction begins IMMEDIATE, holding the database's write lock from its
// first statement, so callers in this process and in others on the same
// file look for a first key one at a time and only the first generates
// one. Rotations and prunes serialise the same way.
func (s *Store) KeyTx(ctx context.Context, fn func(tokens.KeyTx) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return fn(keyTx{tx, &s.appends}) })
}

// SigningKeys returns every stored key, oldest activation first.
func (s *Store) SigningKeys(ctx context.Context) ([]tokens.StoredKey, error) {
	return signingKeys(s.read.QueryContext(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY activates_at, created_at, kid`))
}

// keyTx is tokens.KeyTx on a write transaction.
type keyTx struct {
	tx      *sql.Tx
	appends *audit.Appends
}

func (t keyTx) NewestSigningKey(ctx context.Context) (tokens.StoredKey, bool, error) {
	k, err := scanSigningKey(t.tx.QueryRowContext(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY created_at DESC, kid LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return k, false, nil
	}
	return k, err == nil, err
}

func (t keyTx) InsertSigningKey(ctx context.Context, k tokens.StoredKey) error {
	var retire *time.Time
	if !k.RetireAfter.IsZero() {
		retire = &k.RetireAfter
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES (?, ?, ?, ?, ?)`,
		k.ID, string(k.PrivatePEM), ts(k.CreatedAt), ts(k.ActivatesAt), nullTS(retire))
	return err
}

func (t keyTx) RetireSigningKeys(ctx context.Context, retireAfter time.Time) ([]string, error) {
	return queryStrings(ctx, t.tx, `UPDATE signing_keys SET retire_after = ? WHERE retire_after IS NULL RETURNING kid`, ts(retireAfter))
}

func (t keyTx) DeleteSigningKeys(ctx context.Context) ([]string, error) {
	return queryStrings(ctx, t.tx, `DELETE FROM signing_keys RETURNING kid`)
}

func (t keyTx) DeleteRetiredSigningKeys(ctx context.Context, at time.Time) ([]tokens.StoredKey, error) {
	return signingKeys(t.tx.QueryContext(ctx, `DELETE FROM signing_keys WHERE retire_after <= ? RETURNING `+signingKeyColumns, ts(at)))
}

func (t keyTx) Audit(ctx context.Context, ev audit.Event) error {
	return insertAudit(ctx, t.appends, t.tx, ev)
}

// signingKeys reads every key of a query's rows.
func signingKeys(rows *sql.Rows, err error) ([]tokens.StoredKey, error) {
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows *sql.Rows) (tokens.StoredKey, error) { return scanSigningKey(rows) })
}

func scanSigningKey(row scanner) (tokens.StoredKey, error) {
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
