package authz

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/identity"
)

// Tx is one write transaction on the RBAC data, as each store writes it
// in its own SQL: seeds, role and permission changes and grants run in
// one. Its methods do what they are asked and no more: they decide
// nothing and audit nothing, so that what a change does is decided once,
// in this package.
//
// A flow appends its audit events last, after every other statement:
// appending takes the chain's lock (PostgreSQL) until commit, and a
// transaction that held it while it went on to lock rows or the bundle
// counter would deadlock with a writer holding those and waiting for the
// chain.
type Tx interface {
	// Permission returns a permission by code, or ErrPermissionNotFound.
	Permission(ctx context.Context, code string) (Permission, error)
	CreatePermission(ctx context.Context, p Permission, at time.Time) error
	SetPermissionDescription(ctx context.Context, code, description string) error
	// RevokeFromAllRoles takes a permission from every role that has it
	// and returns those roles, in no particular order.
	RevokeFromAllRoles(ctx context.Context, code string) ([]string, error)
	DeletePermission(ctx context.Context, code string) error

	// Role returns a role and its permissions by name, case-insensitively,
	// or ErrRoleNotFound.
	Role(ctx context.Context, name string) (Role, error)
	CreateRole(ctx context.Context, name, description string, at time.Time) error
	SetRoleDescription(ctx context.Context, name, description string) error
	// RoleHolders returns the ids of the users and service accounts that
	// hold a role.
	RoleHolders(ctx context.Context, name string) ([]uuid.UUID, error)
	// DeleteRole deletes a role, taking it from every holder.
	DeleteRole(ctx context.Context, name string) error
	// Grant gives a permission to a role, reporting whether it is new. A
	// missing permission is ErrPermissionNotFound naming it, a missing
	// role ErrRoleNotFound.
	Grant(ctx context.Context, role, permission string) (bool, error)
	// Revoke takes a permission from a role, reporting whether it had it.
	Revoke(ctx context.Context, role, permission string) (bool, error)

	// User returns a user by username key, or identity.ErrUserNotFound.
	User(ctx context.Context, key string) (identity.User, error)
	CreateUser(ctx context.Context, u identity.User) error
	SetUserState(ctx context.Context, id uuid.UUID, state identity.State, at time.Time) error
	SetPasswordHash(ctx context.Context, id uuid.UUID, hash string, at time.Time) error
	UserRoles(ctx context.Context, id uuid.UUID) ([]string, error)
	// AddUserRole gives a user a role, reporting whether it is new. A
	// missing role is ErrRoleNotFound, a missing user
	// identity.ErrUserNotFound.
	AddUserRole(ctx context.Context, id uuid.UUID, role string) (bool, error)
	// RemoveUserRole takes a role from a user, reporting whether the user
	// had it.
	RemoveUserRole(ctx context.Context, id uuid.UUID, role string) (bool, error)
	// RevokeSubject voids the subject's tokens issued at or before at.
	RevokeSubject(ctx context.Context, id uuid.UUID, at time.Time) error
	// EndConsoleSessions deletes the user's admin console sessions.
	EndConsoleSessions(ctx context.Context, id uuid.UUID) error

	Audit(ctx context.Context, ev audit.Event) error
}

// change runs fn in one of store's RBAC transactions and, when fn reports
// that it changed something, records ev last in the same transaction.
func change(ctx context.Context, store Store, ev audit.Event, fn func(Tx) (bool, error)) (bool, error) {
	changed := false
	err := store.RBACTx(ctx, func(tx Tx) error {
		var err error
		if changed, err = fn(tx); err != nil || !changed {
			return err
		}
		return tx.Audit(ctx, ev)
	})
	return changed, err
}
