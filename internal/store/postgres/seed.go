package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
)

// SeedTx runs fn in one transaction, committing if it returns nil. Its
// flows append their audit events last, so the chain's lock is the last
// lock it takes, as in every other writer.
func (s *Store) SeedTx(ctx context.Context, fn func(authz.SeedTx) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return fn(seedTx{tx}) })
}

// seedTx is authz.SeedTx on a pgx transaction.
type seedTx struct{ tx pgx.Tx }

func (t seedTx) Permission(ctx context.Context, code string) (authz.Permission, error) {
	p := authz.Permission{Code: code}
	err := t.tx.QueryRow(ctx, `SELECT description FROM permissions WHERE code = $1`, code).Scan(&p.Description)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, fmt.Errorf("%w: %q", authz.ErrPermissionNotFound, code)
	}
	return p, err
}

func (t seedTx) CreatePermission(ctx context.Context, p authz.Permission, at time.Time) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO permissions (code, description, created_at) VALUES ($1, $2, $3)`, p.Code, p.Description, at)
	return err
}

func (t seedTx) SetPermissionDescription(ctx context.Context, code, description string) error {
	_, err := t.tx.Exec(ctx, `UPDATE permissions SET description = $2 WHERE code = $1`, code, description)
	return err
}

func (t seedTx) DeletePermission(ctx context.Context, code string) ([]string, error) {
	rows, err := t.tx.Query(ctx, `DELETE FROM role_permissions WHERE permission_code = $1 RETURNING role_name`, code)
	if err != nil {
		return nil, err
	}
	roles, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	slices.Sort(roles)
	_, err = t.tx.Exec(ctx, `DELETE FROM permissions WHERE code = $1`, code)
	return roles, err
}

func (t seedTx) Role(ctx context.Context, name string) (authz.Role, error) {
	return findRole(ctx, t.tx, name)
}

func (t seedTx) CreateRole(ctx context.Context, name, description string, at time.Time) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO roles (name, description, created_at) VALUES ($1, $2, $3)`, name, description, at)
	return err
}

func (t seedTx) SetRoleDescription(ctx context.Context, name, description string) error {
	_, err := t.tx.Exec(ctx, `UPDATE roles SET description = $2 WHERE name = $1`, name, description)
	return err
}

func (t seedTx) DeleteRole(ctx context.Context, name string) ([]uuid.UUID, error) {
	rows, err := t.tx.Query(ctx, `
		SELECT user_id FROM user_roles WHERE role_name = $1
		UNION SELECT service_account_id FROM service_account_roles WHERE role_name = $1`, name)
	if err != nil {
		return nil, err
	}
	holders, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, err
	}
	_, err = t.tx.Exec(ctx, `DELETE FROM roles WHERE name = $1`, name)
	return holders, err
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
	_, err := t.tx.Exec(ctx, updateStateSQL, id, string(state), at)
	return err
}

func (t seedTx) SetPasswordHash(ctx context.Context, id uuid.UUID, hash string, at time.Time) error {
	_, err := t.tx.Exec(ctx, updatePasswordHashSQL, id, hash, at)
	return err
}

func (t seedTx) UserRoles(ctx context.Context, id uuid.UUID) ([]string, error) {
	rows, err := t.tx.Query(ctx, `SELECT role_name FROM user_roles WHERE user_id = $1`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
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
