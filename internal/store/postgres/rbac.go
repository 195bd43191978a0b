package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
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

// GrantPermission is authz.GrantPermission in this store.
func (s *Store) GrantPermission(ctx context.Context, role, permission string, ev audit.Event) (bool, error) {
	return authz.GrantPermission(ctx, s, role, permission, ev)
}

// RevokePermission is authz.RevokePermission in this store.
func (s *Store) RevokePermission(ctx context.Context, role, permission string, ev audit.Event) (bool, error) {
	return authz.RevokePermission(ctx, s, role, permission, ev)
}

// AddUserRole is authz.AddUserRole in this store.
func (s *Store) AddUserRole(ctx context.Context, user uuid.UUID, role string, ev audit.Event) (bool, error) {
	return authz.AddUserRole(ctx, s, user, role, ev)
}

// RemoveUserRole is authz.RemoveUserRole in this store.
func (s *Store) RemoveUserRole(ctx context.Context, user uuid.UUID, role string, ev audit.Event) (bool, error) {
	return authz.RemoveUserRole(ctx, s, user, role, ev)
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
		return insertAudit(ctx, tx, ev)
	})
	return changed, err
}
