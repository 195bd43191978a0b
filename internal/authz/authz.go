// Package authz is the RBAC model: permissions, roles, and which roles a
// subject holds. It decides nothing per request; services do, from tokens
// and bundles built from this data.
package authz

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"unicode"

	"github.com/google/uuid"
)

// Permission is a business permission such as "inventory.read".
type Permission struct {
	Code        string
	Description string
}

// Role is a named set of permissions. Built-in roles belong to the IAM
// itself and cannot be changed.
type Role struct {
	Name        string
	Description string
	Builtin     bool
	Permissions []string // sorted
}

// Grants are a subject's roles and the union of their permissions, both
// sorted and de-duplicated.
type Grants struct {
	Roles       []string
	Permissions []string
}

// AdminRole is the built-in role of the IAM's own administrators.
const AdminRole = "iam-admin"

// The IAM's own permissions, granted to AdminRole: what the admin API's
// routes and the console's pages ask the policy for.
const (
	PermUsersRead  = "iam.users.read"  // users, roles, service accounts, sessions
	PermUsersWrite = "iam.users.write" // change users, their roles and sessions, service accounts
	PermRolesWrite = "iam.roles.write" // change roles and permissions
	PermAuditRead  = "iam.audit.read"  // the audit trail, decision logs, keys
)

// Errors returned by the authz service and its store.
var (
	ErrPermissionNotFound = errors.New("unknown permission")
	ErrRoleNotFound       = errors.New("unknown role")
	ErrInvalidPermission  = errors.New("invalid permission code")
	ErrInvalidRole        = errors.New("invalid role name")
	ErrBuiltinRole        = errors.New("built-in roles cannot be changed")
	ErrRoleExists         = errors.New("a role of that name already exists")
	ErrPermissionExists   = errors.New("that permission already exists")
	// ErrBuiltinPermission is a permission of the IAM itself (iam.*): its
	// own administration depends on it.
	ErrBuiltinPermission = errors.New("the IAM's own permissions cannot be deleted")
	ErrInvalidSeed       = errors.New("invalid seed file")
)

// Store keeps the RBAC tables. Every change records its audit event in the
// same transaction; a call that changes nothing records nothing and
// reports false. Changes are this package's flows over RBACTx; a store
// implements GrantPermission, RevokePermission, AddUserRole and
// RemoveUserRole, the store contract's way in, by calling this package's
// functions of the same names.
type Store interface {
	Permissions(ctx context.Context) ([]Permission, error)
	Roles(ctx context.Context) ([]Role, error)
	// Role finds a role by name, case-insensitively.
	Role(ctx context.Context, name string) (Role, error)
	UserGrants(ctx context.Context, user uuid.UUID) (Grants, error)
	// RBACTx runs fn in one write transaction, committing if it returns
	// nil, else rolling back and returning fn's error.
	RBACTx(ctx context.Context, fn func(Tx) error) error
}

var permissionCode = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

// ValidatePermissionCode checks the dotted, lower-case form
// domain.resource[.action].
func ValidatePermissionCode(code string) error {
	if len(code) > 200 || !permissionCode.MatchString(code) {
		return fmt.Errorf("%w %q: use dotted lower-case segments such as inventory.read", ErrInvalidPermission, code)
	}
	return nil
}

// builtinPermissionPrefix marks the IAM's own permissions, which the
// built-in role holds and the admin API is authorized by.
const builtinPermissionPrefix = "iam."

// ValidateRoleName checks a role name: 1 to 100 printable characters.
func ValidateRoleName(name string) error {
	n := len([]rune(name))
	if n == 0 || n > 100 {
		return fmt.Errorf("%w %q: must be 1 to 100 characters", ErrInvalidRole, name)
	}
	for _, r := range name {
		if unicode.IsControl(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("%w %q: must not contain control characters", ErrInvalidRole, name)
		}
	}
	return nil
}
