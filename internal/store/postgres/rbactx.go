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
	"github.com/gaia-platform/iam/internal/identity"
)

// RBACTx runs fn in one transaction, committing if it returns nil. Its
// flows append their audit events last, so the chain's lock is the last
// lock it takes, as in every other writer.
func (s *Store) RBACTx(ctx context.Context, fn func(authz.Tx) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return fn(rbacTx{tx}) })
}

// rbacTx is authz.Tx on a pgx transaction.
type rbacTx struct{ tx pgx.Tx }

func (t rbacTx) Permission(ctx context.Context, code string) (authz.Permission, error) {
	p := authz.Permission{Code: code}
	err := t.tx.QueryRow(ctx, `SELECT description FROM permissions WHERE code = $1`, code).Scan(&p.Description)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, fmt.Errorf("%w: %q", authz.ErrPermissionNotFound, code)
	}
	return p, err
}

func (t rbacTx) CreatePermission(ctx context.Context, p authz.Permission, at time.Time) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO permissions (code, description, created_at) VALUES ($1, $2, $3)`, p.Code, p.Description, at)
	return err
}

func (t rbacTx) SetPermissionDescription(ctx context.Context, code, description string) error {
	_, err := t.tx.Exec(ctx, `UPDATE permissions SET description = $2 WHERE code = $1`, code, description)
	return err
}

func (t rbacTx) RevokeFromAllRoles(ctx context.Context, code string) ([]string, error) {
	rows, err := t.tx.Query(ctx, `DELETE FROM role_permissions WHERE permission_code = $1 RETURNING role_name`, code)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (t rbacTx) DeletePermission(ctx context.Context, code string) error {
	_, err := t.tx.Exec(ctx, `DELETE FROM permissions WHERE code = $1`, code)
	return err
}

func (t rbacTx) Role(ctx context.Context, name string) (authz.Role, error) {
	return findRole(ctx, t.tx, name)
}

func (t rbacTx) CreateRole(ctx context.Context, name, description string, at time.Time) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO roles (name, description, created_at) VALUES ($1, $2, $3)`, name, description, at)
	return err
}

func (t rbacTx) SetRoleDescription(ctx context.Context, name, description string) error {
	_, err := t.tx.Exec(ctx, `UPDATE roles SET description = $2 WHERE name = $1`, name, description)
	return err
}

func (t rbacTx) RoleHolders(ctx context.Context, name string) ([]uuid.UUID, error) {
	rows, err := t.tx.Query(ctx, `
		SELECT user_id FROM user_roles WHERE role_name = $1
		UNION SELECT service_account_id FROM service_account_roles WHERE role_name = $1`, name)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

func (t rbacTx) DeleteRole(ctx context.Context, name string) error {
	_, err := t.tx.Exec(ctx, `DELETE FROM roles WHERE name = $1`, name)
	return err
}

func (t rbacTx) Grant(ctx context.Context, role, permission string) (bool, error) {
	tag, err := t.tx.Exec(ctx, `INSERT INTO role_permissions (role_name, permission_code) VALUES ($1, $2) ON CONFLICT DO NOTHING`, role, permission)
	switch code, constraint := pgCode(err); {
	case code == foreignKeyViolation && constraint == "role_permissions_permission_code_fkey":
		return false, fmt.Errorf("%w: %q", authz.ErrPermissionNotFound, permission)
	case code == foreignKeyViolation:
		return false, fmt.Errorf("%w: %q", authz.ErrRoleNotFound, role)
	case err != nil:
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

func (t rbacTx) Revoke(ctx context.Context, role, permission string) (bool, error) {
	tag, err := t.tx.Exec(ctx, `DELETE FROM role_permissions WHERE role_name = $1 AND permission_code = $2`, role, permission)
	return err == nil && tag.RowsAffected() == 1, err
}

func (t rbacTx) User(ctx context.Context, key string) (identity.User, error) {
	return userByKey(ctx, t.tx, key)
}

func (t rbacTx) CreateUser(ctx context.Context, u identity.User) error {
	return insertUser(ctx, t.tx, u)
}

func (t rbacTx) SetUserState(ctx context.Context, id uuid.UUID, state identity.State, at time.Time) error {
	_, err := t.tx.Exec(ctx, updateStateSQL, id, string(state), at)
	return err
}

func (t rbacTx) SetPasswordHash(ctx context.Context, id uuid.UUID, hash string, at time.Time) error {
	_, err := t.tx.Exec(ctx, updatePasswordHashSQL, id, hash, at)
	return err
}

func (t rbacTx) UserRoles(ctx context.Context, id uuid.UUID) ([]string, error) {
	rows, err := t.tx.Query(ctx, `SELECT role_name FROM user_roles WHERE user_id = $1`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
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
