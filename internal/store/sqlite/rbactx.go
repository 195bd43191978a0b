package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
)

// RBACTx runs fn in one write transaction (BEGIN IMMEDIATE), committing if
// it returns nil.
func (s *Store) RBACTx(ctx context.Context, fn func(authz.Tx) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return fn(rbacTx{tx}) })
}

// rbacTx is authz.Tx on a write transaction.
type rbacTx struct{ tx *sql.Tx }

func (t rbacTx) exec(ctx context.Context, query string, args ...any) error {
	_, err := t.tx.ExecContext(ctx, query, args...)
	return err
}

func (t rbacTx) Permission(ctx context.Context, code string) (authz.Permission, error) {
	p := authz.Permission{Code: code}
	err := t.tx.QueryRowContext(ctx, `SELECT description FROM permissions WHERE code = ?`, code).Scan(&p.Description)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("%w: %q", authz.ErrPermissionNotFound, code)
	}
	return p, err
}

func (t rbacTx) CreatePermission(ctx context.Context, p authz.Permission, at time.Time) error {
	return t.exec(ctx, `INSERT INTO permissions (code, description, created_at) VALUES (?, ?, ?)`, p.Code, p.Description, ts(at))
}

func (t rbacTx) SetPermissionDescription(ctx context.Context, code, description string) error {
	return t.exec(ctx, `UPDATE permissions SET description = ?2 WHERE code = ?1`, code, description)
}

func (t rbacTx) RevokeFromAllRoles(ctx context.Context, code string) ([]string, error) {
	return queryStrings(ctx, t.tx, `DELETE FROM role_permissions WHERE permission_code = ? RETURNING role_name`, code)
}

func (t rbacTx) DeletePermission(ctx context.Context, code string) error {
	return t.exec(ctx, `DELETE FROM permissions WHERE code = ?`, code)
}

func (t rbacTx) Role(ctx context.Context, name string) (authz.Role, error) {
	return findRole(ctx, t.tx, name)
}

func (t rbacTx) CreateRole(ctx context.Context, name, description string, at time.Time) error {
	return t.exec(ctx, `INSERT INTO roles (name, name_key, description, created_at) VALUES (?, ?, ?, ?)`, name, roleKey(name), description, ts(at))
}

func (t rbacTx) SetRoleDescription(ctx context.Context, name, description string) error {
	return t.exec(ctx, `UPDATE roles SET description = ?2 WHERE name = ?1`, name, description)
}

func (t rbacTx) RoleHolders(ctx context.Context, name string) ([]uuid.UUID, error) {
	rows, err := t.tx.QueryContext(ctx, `
		SELECT user_id FROM user_roles WHERE role_name = ?1
		UNION SELECT service_account_id FROM service_account_roles WHERE role_name = ?1`, name)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows *sql.Rows) (uuid.UUID, error) {
		var id string
		if err := rows.Scan(&id); err != nil {
			return uuid.Nil, err
		}
		return uuid.Parse(id)
	})
}

func (t rbacTx) DeleteRole(ctx context.Context, name string) error {
	return t.exec(ctx, `DELETE FROM roles WHERE name = ?`, name)
}

// Grant gives a permission to a role. As in addUserRole, a foreign-key
// error is followed by the lookups that say what is missing.
func (t rbacTx) Grant(ctx context.Context, role, permission string) (bool, error) {
	res, err := t.tx.ExecContext(ctx, `INSERT INTO role_permissions (role_name, permission_code) VALUES (?, ?) ON CONFLICT DO NOTHING`, role, permission)
	if sqliteCode(err) == foreignKeyViolation {
		if err := mustExist(ctx, t.tx, `SELECT EXISTS (SELECT 1 FROM permissions WHERE code = ?)`, permission, authz.ErrPermissionNotFound); err != nil {
			return false, err
		}
		if err := mustExist(ctx, t.tx, `SELECT EXISTS (SELECT 1 FROM roles WHERE name = ?)`, role, authz.ErrRoleNotFound); err != nil {
			return false, err
		}
		return false, err
	}
	return affectedOne(res, err)
}

func (t rbacTx) Revoke(ctx context.Context, role, permission string) (bool, error) {
	return affectedOne(t.tx.ExecContext(ctx, `DELETE FROM role_permissions WHERE role_name = ? AND permission_code = ?`, role, permission))
}

func (t rbacTx) User(ctx context.Context, key string) (identity.User, error) {
	return userByKey(ctx, t.tx, key)
}

func (t rbacTx) CreateUser(ctx context.Context, u identity.User) error {
	return insertUser(ctx, t.tx, u)
}

func (t rbacTx) SetUserState(ctx context.Context, id uuid.UUID, state identity.State, at time.Time) error {
	return t.exec(ctx, updateStateSQL, id.String(), string(state), ts(at))
}

func (t rbacTx) SetPasswordHash(ctx context.Context, id uuid.UUID, hash string, at time.Time) error {
	return t.exec(ctx, updatePasswordHashSQL, id.String(), hash, ts(at))
}

func (t rbacTx) UserRoles(ctx context.Context, id uuid.UUID) ([]string, error) {
	return queryStrings(ctx, t.tx, `SELECT role_name FROM user_roles WHERE user_id = ?`, id.String())
}

func (t rbacTx) AddUserRole(ctx context.Context, id uuid.UUID, role string) (bool, error) {
	return addUserRole(ctx, t.tx, id, role)
}

func (t rbacTx) RemoveUserRole(ctx context.Context, id uuid.UUID, role string) (bool, error) {
	return removeUserRole(ctx, t.tx, id, role)
}

func (t rbacTx) RevokeSubject(ctx context.Context, id uuid.UUID, at time.Time) error {
	return revokeSubject(ctx, t.tx, id, at)
}

func (t rbacTx) Audit(ctx context.Context, ev audit.Event) error { return insertAudit(ctx, t.tx, ev) }
