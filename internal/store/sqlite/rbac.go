package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
)

// Permissions lists every permission ordered by code.
func (s *Store) Permissions(ctx context.Context) ([]authz.Permission, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT code, description FROM permissions ORDER BY code`)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows *sql.Rows) (authz.Permission, error) {
		var p authz.Permission
		return p, rows.Scan(&p.Code, &p.Description)
	})
}

// roleKey is the case-insensitive form of a role name, kept in
// roles.name_key: SQLite's lower() folds ASCII only.
func roleKey(name string) string { return strings.ToLower(name) }

// Lists sort in SQLite's BINARY collation, byte order as in Go: they end
// up in tokens and bundles that other programs compare.
const roleQuery = `
	SELECT r.name, r.description, r.builtin, rp.permission_code
	FROM roles r LEFT JOIN role_permissions rp ON rp.role_name = r.name`

// scanRoles folds the rows of roleQuery, ordered by role name and then
// permission code, into roles.
func scanRoles(rows *sql.Rows, err error) ([]authz.Role, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	roles := []authz.Role{}
	for rows.Next() {
		var r authz.Role
		var perm sql.NullString
		if err := rows.Scan(&r.Name, &r.Description, &r.Builtin, &perm); err != nil {
			return nil, err
		}
		if n := len(roles); n == 0 || roles[n-1].Name != r.Name {
			r.Permissions = []string{}
			roles = append(roles, r)
		}
		if perm.Valid {
			last := &roles[len(roles)-1]
			last.Permissions = append(last.Permissions, perm.String)
		}
	}
	return roles, rows.Err()
}

// Roles lists every role with its permissions, ordered by name.
func (s *Store) Roles(ctx context.Context) ([]authz.Role, error) {
	return scanRoles(s.read.QueryContext(ctx, roleQuery+` ORDER BY r.name, rp.permission_code`))
}

// Role finds a role by name, case-insensitively.
func (s *Store) Role(ctx context.Context, name string) (authz.Role, error) {
	return findRole(ctx, s.read, name)
}

func findRole(ctx context.Context, q querier, name string) (authz.Role, error) {
	roles, err := scanRoles(q.QueryContext(ctx, roleQuery+` WHERE r.name_key = ? ORDER BY rp.permission_code`, roleKey(name)))
	if err != nil {
		return authz.Role{}, err
	}
	if len(roles) == 0 {
		return authz.Role{}, fmt.Errorf("%w: %q", authz.ErrRoleNotFound, name)
	}
	return roles[0], nil
}

// UserGrants returns a user's roles and the union of their permissions,
// both read from one snapshot.
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
// permissions, both read from one snapshot.
func (s *Store) grants(ctx context.Context, link roleLink, id uuid.UUID) (authz.Grants, error) {
	var g authz.Grants
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		g.Roles, err = queryStrings(ctx, tx, `SELECT role_name FROM `+link.table+` WHERE `+link.subject+` = ? ORDER BY role_name`, id.String())
		if err != nil {
			return err
		}
		g.Permissions, err = queryStrings(ctx, tx, `
			SELECT DISTINCT rp.permission_code
			FROM `+link.table+` l JOIN role_permissions rp ON rp.role_name = l.role_name
			WHERE l.`+link.subject+` = ? ORDER BY rp.permission_code`, id.String())
		return err
	})
	if err != nil {
		return authz.Grants{}, err
	}
	return g, nil
}

// change runs fn in a transaction and records ev when fn reports a change.
func (s *Store) change(ctx context.Context, ev audit.Event, fn func(*sql.Tx) (bool, error)) (bool, error) {
	changed := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if changed, err = fn(tx); err != nil || !changed {
			return err
		}
		return insertAudit(ctx, &s.appends, tx, ev)
	})
	return changed, err
}

func exists(ctx context.Context, tx *sql.Tx, query string, arg any) (bool, error) {
	var ok bool
	err := tx.QueryRowContext(ctx, query, arg).Scan(&ok)
	return ok, err
}

func mustExist(ctx context.Context, tx *sql.Tx, query, arg string, notFound error) error {
	ok, err := exists(ctx, tx, query, arg)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %q", notFound, arg)
	}
	return nil
}

// RBACTx runs fn in one write transaction (BEGIN IMMEDIATE), committing if
// it returns nil.
func (s *Store) RBACTx(ctx context.Context, fn func(authz.Tx) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return fn(rbacTx{tx, &s.appends}) })
}

// rbacTx is authz.Tx on a write transaction.
type rbacTx struct {
	tx      *sql.Tx
	appends *audit.Appends
}

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

func (t rbacTx) EndConsoleSessions(ctx context.Context, id uuid.UUID) error {
	return endConsoleSessions(ctx, t.tx, id)
}

func (t rbacTx) Audit(ctx context.Context, ev audit.Event) error {
	return insertAudit(ctx, t.appends, t.tx, ev)
}
