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

// Permissions lists every permission ordered by code.
func (s *Store) Permissions(ctx context.Context) ([]authz.Permission, error) {
	rows, err := s.pool.Query(ctx, `SELECT code, description FROM permissions ORDER BY code COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[authz.Permission])
}

// Lists sort with COLLATE "C", byte order as in Go, whatever the database's
// locale: they end up in tokens and bundles that other programs compare.
const roleQuery = `
	SELECT r.name, r.description, r.builtin,
	       COALESCE(array_agg(rp.permission_code ORDER BY rp.permission_code COLLATE "C")
	                FILTER (WHERE rp.permission_code IS NOT NULL), '{}')
	FROM roles r LEFT JOIN role_permissions rp ON rp.role_name = r.name`

func scanRole(row pgx.Row) (authz.Role, error) {
	var r authz.Role
	err := row.Scan(&r.Name, &r.Description, &r.Builtin, &r.Permissions)
	return r, err
}

// Roles lists every role with its permissions, ordered by name.
func (s *Store) Roles(ctx context.Context) ([]authz.Role, error) {
	rows, err := s.pool.Query(ctx, roleQuery+` GROUP BY r.name ORDER BY r.name COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (authz.Role, error) { return scanRole(row) })
}

// Role finds a role by name, case-insensitively.
func (s *Store) Role(ctx context.Context, name string) (authz.Role, error) {
	return findRole(ctx, s.pool, name)
}

// rowQuerier is a pool or a transaction.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func findRole(ctx context.Context, q rowQuerier, name string) (authz.Role, error) {
	r, err := scanRole(q.QueryRow(ctx, roleQuery+` WHERE lower(r.name) = lower($1) GROUP BY r.name`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("%w: %q", authz.ErrRoleNotFound, name)
	}
	return r, err
}

// UserGrants returns a user's roles and the union of their permissions.
func (s *Store) UserGrants(ctx context.Context, user uuid.UUID) (authz.Grants, error) {
	return s.grants(ctx, userRoles, user)
}

// roleLink is a table that gives roles to subjects of one kind.
type roleLink struct{ table, subject string }

var (
	userRoles           = roleLink{"user_roles", "user_id"}
	serviceAccountRoles = roleLink{"service_account_roles", "service_account_id"}
)

// grants returns the roles link gives id and the union of their
// permissions, in one statement.
func (s *Store) grants(ctx context.Context, link roleLink, id uuid.UUID) (authz.Grants, error) {
	var g authz.Grants
	err := s.pool.QueryRow(ctx, `
		SELECT
		  COALESCE((SELECT array_agg(role_name ORDER BY role_name COLLATE "C") FROM `+link.table+` WHERE `+link.subject+` = $1), '{}'),
		  COALESCE((SELECT array_agg(DISTINCT rp.permission_code COLLATE "C" ORDER BY rp.permission_code COLLATE "C")
		            FROM `+link.table+` l JOIN role_permissions rp ON rp.role_name = l.role_name
		            WHERE l.`+link.subject+` = $1), '{}')`, id).Scan(&g.Roles, &g.Permissions)
	return g, err
}

// change runs fn in a transaction and records ev when fn reports a change.
func (s *Store) change(ctx context.Context, ev audit.Event, fn func(pgx.Tx) (bool, error)) (bool, error) {
	changed := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if changed, err = fn(tx); err != nil || !changed {
			return err
		}
		return insertAudit(ctx, &s.appends, tx, ev)
	})
	return changed, err
}

// RBACTx runs fn in one transaction, committing if it returns nil. Its
// flows append their audit events last, so the chain's lock is the last
// lock it takes, as in every other writer.
func (s *Store) RBACTx(ctx context.Context, fn func(authz.Tx) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return fn(rbacTx{tx, &s.appends}) })
}

// rbacTx is authz.Tx on a pgx transaction.
type rbacTx struct {
	tx      pgx.Tx
	appends *audit.Appends
}

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

func (t rbacTx) EndConsoleSessions(ctx context.Context, id uuid.UUID) error {
	return endConsoleSessions(ctx, t.tx, id)
}

func (t rbacTx) Audit(ctx context.Context, ev audit.Event) error {
	return insertAudit(ctx, t.appends, t.tx, ev)
}
