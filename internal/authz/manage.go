package authz

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
)

// Role finds a role by name, case-insensitively.
func (s *Service) Role(ctx context.Context, name string) (Role, error) {
	return s.store.Role(ctx, name)
}

// CreateRole makes a role without permissions.
func (s *Service) CreateRole(ctx context.Context, actor, name, description string) (Role, error) {
	if err := ValidateRoleName(name); err != nil {
		return Role{}, err
	}
	at := s.now().UTC()
	err := s.store.RBACTx(ctx, func(tx Tx) error {
		existing, err := tx.Role(ctx, name)
		switch {
		case err == nil:
			return fmt.Errorf("%w: %q", ErrRoleExists, existing.Name)
		case !errors.Is(err, ErrRoleNotFound):
			return err
		}
		if err := tx.CreateRole(ctx, name, description, at); err != nil {
			return err
		}
		return tx.Audit(ctx, s.event(actor, audit.RoleCreated, "role:"+name, map[string]any{"description": description}))
	})
	if err != nil {
		return Role{}, err
	}
	return Role{Name: name, Description: description, Permissions: []string{}}, nil
}

// SetRoleDescription changes a role's description. It reports whether
// anything changed.
func (s *Service) SetRoleDescription(ctx context.Context, actor, name, description string) (bool, error) {
	changed := false
	err := s.store.RBACTx(ctx, func(tx Tx) error {
		role, err := mutable(tx.Role(ctx, name))
		if err != nil || role.Description == description {
			return err
		}
		if err := tx.SetRoleDescription(ctx, role.Name, description); err != nil {
			return err
		}
		changed = true
		return tx.Audit(ctx, s.event(actor, audit.RoleUpdated, "role:"+role.Name, map[string]any{"description": description}))
	})
	return changed, err
}

// DeleteRole deletes a role that is not built in. Its holders lose it and
// their tokens, which still claim it, are revoked.
func (s *Service) DeleteRole(ctx context.Context, actor, name string) error {
	at := s.now().UTC()
	return s.store.RBACTx(ctx, func(tx Tx) error {
		role, err := mutable(tx.Role(ctx, name))
		if err != nil {
			return err
		}
		holders, err := tx.RoleHolders(ctx, role.Name)
		if err != nil {
			return err
		}
		if err := tx.DeleteRole(ctx, role.Name); err != nil {
			return err
		}
		for _, id := range holders {
			if err := tx.RevokeSubject(ctx, id, at); err != nil {
				return err
			}
		}
		return tx.Audit(ctx, s.event(actor, audit.RoleDeleted, "role:"+role.Name,
			map[string]any{"permissions": role.Permissions, "holders": len(holders)}))
	})
}

// CreatePermission makes a permission, granted to no role.
func (s *Service) CreatePermission(ctx context.Context, actor, code, description string) (Permission, error) {
	if err := ValidatePermissionCode(code); err != nil {
		return Permission{}, err
	}
	p := Permission{Code: code, Description: description}
	err := s.store.RBACTx(ctx, func(tx Tx) error {
		_, err := tx.Permission(ctx, code)
		switch {
		case err == nil:
			return fmt.Errorf("%w: %q", ErrPermissionExists, code)
		case !errors.Is(err, ErrPermissionNotFound):
			return err
		}
		if err := tx.CreatePermission(ctx, p, s.now().UTC()); err != nil {
			return err
		}
		return tx.Audit(ctx, s.event(actor, audit.PermissionCreated, "permission:"+code, map[string]any{"description": description}))
	})
	if err != nil {
		return Permission{}, err
	}
	return p, nil
}

// DeletePermission deletes a permission and takes it from every role that
// has it (recorded in the event); the IAM's own permissions stay.
func (s *Service) DeletePermission(ctx context.Context, actor, code string) error {
	if strings.HasPrefix(code, builtinPermissionPrefix) {
		return fmt.Errorf("%w: %q", ErrBuiltinPermission, code)
	}
	return s.store.RBACTx(ctx, func(tx Tx) error {
		if _, err := tx.Permission(ctx, code); err != nil {
			return err
		}
		roles, err := tx.RevokeFromAllRoles(ctx, code)
		if err != nil {
			return err
		}
		if err := tx.DeletePermission(ctx, code); err != nil {
			return err
		}
		slices.Sort(roles)
		return tx.Audit(ctx, s.event(actor, audit.PermissionDeleted, "permission:"+code, map[string]any{"roles": append([]string{}, roles...)}))
	})
}

// mutable passes on a role found for a change, refusing a built-in one.
func mutable(role Role, err error) (Role, error) {
	if err == nil && role.Builtin {
		err = ErrBuiltinRole
	}
	return role, err
}

// Holders lists the ids of the users and service accounts that hold the
// role name, which must exist.
func (s *Service) Holders(ctx context.Context, name string) ([]uuid.UUID, error) {
	role, err := s.store.Role(ctx, name)
	if err != nil {
		return nil, err
	}
	var holders []uuid.UUID
	err = s.store.RBACTx(ctx, func(tx Tx) error {
		holders, err = tx.RoleHolders(ctx, role.Name)
		return err
	})
	return holders, err
}
