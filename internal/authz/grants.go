package authz

import (
	"context"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
)

// The grants, run in one of store's RBAC transactions each. Service calls
// them, and each store implements Store's methods of the same names with
// them, so that what a grant does is decided here once. Each reports
// whether it changed anything and records ev only if it did.

// GrantPermission gives a permission to a role.
func GrantPermission(ctx context.Context, store Store, role, permission string, ev audit.Event) (bool, error) {
	return change(ctx, store, ev, func(tx Tx) (bool, error) { return tx.Grant(ctx, role, permission) })
}

// RevokePermission takes a permission from a role. A role that lacks it
// changes nothing, but a permission or role that does not exist is
// ErrPermissionNotFound or ErrRoleNotFound, in that order, as for a grant.
func RevokePermission(ctx context.Context, store Store, role, permission string, ev audit.Event) (bool, error) {
	return change(ctx, store, ev, func(tx Tx) (bool, error) {
		if removed, err := tx.Revoke(ctx, role, permission); err != nil || removed {
			return removed, err
		}
		if _, err := tx.Permission(ctx, permission); err != nil {
			return false, err
		}
		_, err := tx.Role(ctx, role)
		return false, err
	})
}

// AddUserRole gives a user a role.
func AddUserRole(ctx context.Context, store Store, user uuid.UUID, role string, ev audit.Event) (bool, error) {
	return change(ctx, store, ev, func(tx Tx) (bool, error) { return tx.AddUserRole(ctx, user, role) })
}

// RemoveUserRole takes a role from a user and revokes the user's tokens
// issued until ev.At: they still claim the role.
func RemoveUserRole(ctx context.Context, store Store, user uuid.UUID, role string, ev audit.Event) (bool, error) {
	return change(ctx, store, ev, func(tx Tx) (bool, error) {
		if removed, err := tx.RemoveUserRole(ctx, user, role); err != nil || !removed {
			return false, err
		}
		return true, tx.RevokeSubject(ctx, user, ev.At)
	})
}
