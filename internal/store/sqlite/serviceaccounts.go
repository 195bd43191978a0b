package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/serviceaccount"
)

const serviceAccountColumns = `id, name, secret_hash, state, created_at, updated_at`

// scanServiceAccount scans an account's serviceAccountColumns, then into
// extra the columns after them.
func scanServiceAccount(row scanner, extra ...any) (serviceaccount.Account, error) {
	var a serviceaccount.Account
	err := scanOne(row, serviceaccount.ErrNotFound,
		append([]any{&a.ID, &a.Name, &a.SecretHash, &a.State, timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt}}, extra...)...)
	return a, err
}

// ServiceAccountTx runs fn in one write transaction (BEGIN IMMEDIATE),
// committing if it returns nil.
func (s *Store) ServiceAccountTx(ctx context.Context, fn func(serviceaccount.AccountTx) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return fn(accountTx{tx, &s.appends}) })
}

// ServiceAccountByName finds an account by name.
func (s *Store) ServiceAccountByName(ctx context.Context, name string) (serviceaccount.Account, error) {
	return scanServiceAccount(s.read.QueryRowContext(ctx, `SELECT `+serviceAccountColumns+` FROM service_accounts WHERE name = ?`, name))
}

// ServiceAccountByID finds an account by id.
func (s *Store) ServiceAccountByID(ctx context.Context, id uuid.UUID) (serviceaccount.Account, error) {
	return scanServiceAccount(s.read.QueryRowContext(ctx, `SELECT `+serviceAccountColumns+` FROM service_accounts WHERE id = ?`, id.String()))
}

// ServiceAccounts lists every account ordered by name, with its roles.
// Role names hold no newline (authz.ValidateRoleName).
func (s *Store) ServiceAccounts(ctx context.Context) ([]serviceaccount.Account, error) {
	rows, err := s.read.QueryContext(ctx, `
		SELECT `+serviceAccountColumns+`,
		  COALESCE((SELECT group_concat(role_name, char(10)) FROM
		            (SELECT role_name FROM service_account_roles WHERE service_account_id = service_accounts.id ORDER BY role_name)), '')
		FROM service_accounts ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows *sql.Rows) (serviceaccount.Account, error) {
		var roles string
		a, err := scanServiceAccount(rows, &roles)
		a.Roles = []string{}
		if roles != "" {
			a.Roles = strings.Split(roles, "\n")
			slices.Sort(a.Roles)
		}
		return a, err
	})
}

// ServiceAccountGrants returns an account's roles and the union of their
// permissions, both read from one snapshot.
func (s *Store) ServiceAccountGrants(ctx context.Context, id uuid.UUID) (authz.Grants, error) {
	return s.grants(ctx, serviceAccountRoles, id)
}

// accountTx is serviceaccount.AccountTx on a write transaction. The
// transaction holds the database's write lock from its start, so reading
// an account is locking it.
type accountTx struct {
	tx      *sql.Tx
	appends *audit.Appends
}

func (t accountTx) InsertAccount(ctx context.Context, a serviceaccount.Account) error {
	_, err := t.tx.ExecContext(ctx, `
		INSERT INTO service_accounts (id, name, secret_hash, state, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		a.ID.String(), a.Name, a.SecretHash, string(a.State), ts(a.CreatedAt), ts(a.UpdatedAt))
	if sqliteCode(err) == uniqueViolation {
		return fmt.Errorf("%w: %q", serviceaccount.ErrNameTaken, a.Name)
	}
	return err
}

func (t accountTx) AddRole(ctx context.Context, id uuid.UUID, role string) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO service_account_roles (service_account_id, role_name) VALUES (?, ?) ON CONFLICT DO NOTHING`, id.String(), role)
	if sqliteCode(err) == foreignKeyViolation {
		return fmt.Errorf("%w: %q", authz.ErrRoleNotFound, role)
	}
	return err
}

func (t accountTx) LockAccount(ctx context.Context, id uuid.UUID) (serviceaccount.Account, error) {
	return scanServiceAccount(t.tx.QueryRowContext(ctx, `SELECT `+serviceAccountColumns+` FROM service_accounts WHERE id = ?`, id.String()))
}

func (t accountTx) SetState(ctx context.Context, id uuid.UUID, state serviceaccount.State, at time.Time) error {
	_, err := t.tx.ExecContext(ctx, `UPDATE service_accounts SET state = ?2, updated_at = ?3 WHERE id = ?1`, id.String(), string(state), ts(at))
	return err
}

func (t accountTx) SetSecretHash(ctx context.Context, id uuid.UUID, hash string, at time.Time) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE service_accounts SET secret_hash = ?2, updated_at = ?3 WHERE id = ?1`, id.String(), hash, ts(at))
	return updated(res, err, serviceaccount.ErrNotFound)
}

func (t accountTx) RevokeSubject(ctx context.Context, id uuid.UUID, at time.Time) error {
	return revokeSubject(ctx, t.tx, id, at)
}

func (t accountTx) Audit(ctx context.Context, ev audit.Event) error {
	return insertAudit(ctx, t.appends, t.tx, ev)
}

func (t accountTx) ServerSecret(ctx context.Context, name string) (string, bool, error) {
	var value string
	err := t.tx.QueryRowContext(ctx, `SELECT value FROM server_secrets WHERE name = ?`, name).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return value, err == nil, err
}

// InsertServerSecret never waits for a concurrent insert: the write
// transaction began IMMEDIATE, so there is none.
func (t accountTx) InsertServerSecret(ctx context.Context, name, value string, at time.Time) (bool, error) {
	return affectedOne(t.tx.ExecContext(ctx, `INSERT INTO server_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, name, value, ts(at)))
}
