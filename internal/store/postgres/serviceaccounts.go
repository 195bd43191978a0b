package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/serviceaccount"
)

const serviceAccountColumns = `id, name, secret_hash, state, created_at, updated_at`

// scanServiceAccount scans an account's serviceAccountColumns, then into
// extra the columns after them.
func scanServiceAccount(row pgx.Row, extra ...any) (serviceaccount.Account, error) {
	var a serviceaccount.Account
	err := scanOne(row, serviceaccount.ErrNotFound, append([]any{&a.ID, &a.Name, &a.SecretHash, &a.State, &a.CreatedAt, &a.UpdatedAt}, extra...)...)
	return a, err
}

// ServiceAccountTx runs fn in one transaction, committing if it returns
// nil.
func (s *Store) ServiceAccountTx(ctx context.Context, fn func(serviceaccount.AccountTx) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return fn(accountTx{tx, &s.appends}) })
}

// ServiceAccountByName finds an account by name.
func (s *Store) ServiceAccountByName(ctx context.Context, name string) (serviceaccount.Account, error) {
	return scanServiceAccount(s.pool.QueryRow(ctx, `SELECT `+serviceAccountColumns+` FROM service_accounts WHERE name = $1`, name))
}

// ServiceAccountByID finds an account by id.
func (s *Store) ServiceAccountByID(ctx context.Context, id uuid.UUID) (serviceaccount.Account, error) {
	return scanServiceAccount(s.pool.QueryRow(ctx, `SELECT `+serviceAccountColumns+` FROM service_accounts WHERE id = $1`, id))
}

// ServiceAccounts lists every account ordered by name, with its roles.
func (s *Store) ServiceAccounts(ctx context.Context) ([]serviceaccount.Account, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+serviceAccountColumns+`,
		  COALESCE((SELECT array_agg(role_name ORDER BY role_name COLLATE "C") FROM service_account_roles WHERE service_account_id = id), '{}')
		FROM service_accounts ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (serviceaccount.Account, error) {
		var roles []string
		a, err := scanServiceAccount(row, &roles)
		a.Roles = roles
		return a, err
	})
}

// ServiceAccountGrants returns an account's roles and the union of their
// permissions.
func (s *Store) ServiceAccountGrants(ctx context.Context, id uuid.UUID) (authz.Grants, error) {
	return s.grants(ctx, serviceAccountRoles, id)
}

// accountTx is serviceaccount.AccountTx on a pgx transaction.
type accountTx struct {
	tx      pgx.Tx
	appends *audit.Appends
}

func (t accountTx) InsertAccount(ctx context.Context, a serviceaccount.Account) error {
	_, err := t.tx.Exec(ctx, `
		INSERT INTO service_accounts (id, name, secret_hash, state, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		a.ID, a.Name, a.SecretHash, string(a.State), a.CreatedAt, a.UpdatedAt)
	if code, _ := pgCode(err); code == uniqueViolation {
		return fmt.Errorf("%w: %q", serviceaccount.ErrNameTaken, a.Name)
	}
	return err
}

func (t accountTx) AddRole(ctx context.Context, id uuid.UUID, role string) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO service_account_roles (service_account_id, role_name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, id, role)
	if code, _ := pgCode(err); code == foreignKeyViolation {
		return fmt.Errorf("%w: %q", authz.ErrRoleNotFound, role)
	}
	return err
}

func (t accountTx) LockAccount(ctx context.Context, id uuid.UUID) (serviceaccount.Account, error) {
	return scanServiceAccount(t.tx.QueryRow(ctx, `SELECT `+serviceAccountColumns+` FROM service_accounts WHERE id = $1 FOR UPDATE`, id))
}

func (t accountTx) SetState(ctx context.Context, id uuid.UUID, state serviceaccount.State, at time.Time) error {
	_, err := t.tx.Exec(ctx, `UPDATE service_accounts SET state = $2, updated_at = $3 WHERE id = $1`, id, string(state), at)
	return err
}

func (t accountTx) SetSecretHash(ctx context.Context, id uuid.UUID, hash string, at time.Time) error {
	tag, err := t.tx.Exec(ctx, `UPDATE service_accounts SET secret_hash = $2, updated_at = $3 WHERE id = $1`, id, hash, at)
	return updated(tag, err, serviceaccount.ErrNotFound)
}

func (t accountTx) RevokeSubject(ctx context.Context, id uuid.UUID, at time.Time) error {
	return revokeSubject(ctx, t.tx, id, at)
}

func (t accountTx) Audit(ctx context.Context, ev audit.Event) error {
	return insertAudit(ctx, t.appends, t.tx, ev)
}

func (t accountTx) ServerSecret(ctx context.Context, name string) (string, bool, error) {
	var value string
	err := t.tx.QueryRow(ctx, `SELECT value FROM server_secrets WHERE name = $1`, name).Scan(&value)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return value, err == nil, err
}

// InsertServerSecret waits on the primary key for a concurrent insert.
func (t accountTx) InsertServerSecret(ctx context.Context, name, value string, at time.Time) (bool, error) {
	tag, err := t.tx.Exec(ctx, `INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, name, value, at)
	return tag.RowsAffected() == 1, err
}
