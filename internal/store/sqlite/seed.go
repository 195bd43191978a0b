package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
)

// SeedTx runs fn in one write transaction (BEGIN IMMEDIATE), committing if
// it returns nil.
func (s *Store) SeedTx(ctx context.Context, fn func(authz.SeedTx) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return fn(seedTx{tx}) })
}

// seedTx is authz.SeedTx on a write transaction.
type seedTx struct{ tx *sql.Tx }

func (t seedTx) exec(ctx context.Context, query string, args ...any) error {
	_, err := t.tx.ExecContext(ctx, query, args...)
	return err
}

func (t seedTx) Permission(ctx context.Context, code string) (authz.Permission, error) {
	p := authz.Permission{Code: code}
	err := t.tx.QueryRowContext(ctx, `SELECT description FROM permissions WHERE code = ?`, code).Scan(&p.Description)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("%w: %q", authz.ErrPermissionNotFound, code)
	}
	return p, err
}

func (t seedTx) CreatePermission(ctx context.Context, p authz.Permission, at time.Time) error {
	return t.exec(ctx, `INSERT INTO permissions (code, description, created_at) VALUES (?, ?, ?)`, p.Code, p.Description, ts(at))
}

func (t seedTx) SetPermissionDescription(ctx context.Context, code, description string) error {
	return t.exec(ctx, `UPDATE permissions SET description = ?2 WHERE code = ?1`, code, description)
}

func (t seedTx) DeletePermission(ctx context.Context, code string) ([]string, error) {
	rows, err := t.tx.QueryContext(ctx, `DELETE FROM role_permissions WHERE permission_code = ? RETURNING role_name`, code)
	if err != nil {
		return nil, err
	}
	roles, err := collect(rows, func(rows *sql.Rows) (string, error) {
		var r string
		return r, rows.Scan(&r)
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(roles)
	return roles, t.exec(ctx, `DELETE FROM permissions WHERE code = ?`, code)
}

func (t seedTx) Role(ctx context.Context, name string) (authz.Role, error) {
	return findRole(ctx, t.tx, name)
}

func (t seedTx) CreateRole(ctx context.Context, name, description string, at time.Time) error {
	return t.exec(ctx, `INSERT INTO roles (name, name_key, description, created_at) VALUES (?, ?, ?, ?)`, name, roleKey(name), description, ts(at))
}

func (t seedTx) SetRoleDescription(ctx context.Context, name, description string) error {
	return t.exec(ctx, `UPDATE roles SET description = ?2 WHERE name = ?1`, name, description)
}

func (t seedTx) DeleteRole(ctx context.Context, name string) ([]uuid.UUID, error) {
	rows, err := t.tx.QueryContext(ctx, `
		SELECT user_id FROM user_roles WHERE role_name = ?1
		UNION SELECT service_account_id FROM service_account_roles WHERE role_name = ?1`, name)
	if err != nil {
		return nil, err
	}
	holders, err := collect(rows, func(rows *sql.Rows) (uuid.UUID, error) {
		var id string
		if err := rows.Scan(&id); err != nil {
			return uuid.Nil, err
		}
		return uuid.Parse(id)
	})
	if err != nil {
		return nil, err
	}
	return holders, t.exec(ctx, `DELETE FROM roles WHERE name = ?`, name)
}

func (t seedTx) Grant(ctx context.Context, role, permission string) (bool, error) {
	return grant(ctx, t.tx, role, permission)
}

func (t seedTx) Revoke(ctx context.Context, role, permission string) error {
	_, err := revoke(ctx, t.tx, role, permission)
	return err
}

func (t seedTx) User(ctx context.Context, key string) (identity.User, error) {
	return userByKey(ctx, t.tx, key)
}

func (t seedTx) CreateUser(ctx context.Context, u identity.User) error {
	return insertUser(ctx, t.tx, u)
}

func (t seedTx) SetUserState(ctx context.Context, id uuid.UUID, state identity.State, at time.Time) error {
	return t.exec(ctx, updateStateSQL, id.String(), string(state), ts(at))
}

func (t seedTx) SetPasswordHash(ctx context.Context, id uuid.UUID, hash string, at time.Time) error {
	return t.exec(ctx, updatePasswordHashSQL, id.String(), hash, ts(at))
}

func (t seedTx) UserRoles(ctx context.Context, id uuid.UUID) ([]string, error) {
	return queryStrings(ctx, t.tx, `SELECT role_name FROM user_roles WHERE user_id = ?`, id.String())
}

func (t seedTx) AddUserRole(ctx context.Context, id uuid.UUID, role string) (bool, error) {
	return addUserRole(ctx, t.tx, id, role)
}

func (t seedTx) RemoveUserRole(ctx context.Context, id uuid.UUID, role string) error {
	_, err := removeUserRole(ctx, t.tx, id, role)
	return err
}

func (t seedTx) RevokeSubject(ctx context.Context, id uuid.UUID, at time.Time) error {
	return revokeSubject(ctx, t.tx, id, at)
}

func (t seedTx) Audit(ctx context.Context, ev audit.Event) error { return insertAudit(ctx, t.tx, ev) }
