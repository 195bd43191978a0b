package authz

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
)

// Service changes the RBAC data on behalf of an actor.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service over store.
func NewService(store Store, now func() time.Time) *Service {
	return &Service{store: store, now: now}
}

// Roles lists every role with its permissions, ordered by name.
func (s *Service) Roles(ctx context.Context) ([]Role, error) { return s.store.Roles(ctx) }

// Permissions lists every permission, ordered by code.
func (s *Service) Permissions(ctx context.Context) ([]Permission, error) {
	return s.store.Permissions(ctx)
}

// Grants returns a user's roles and the union of their permissions.
func (s *Service) Grants(ctx context.Context, user uuid.UUID) (Grants, error) {
	return s.store.UserGrants(ctx, user)
}

// Grant gives a permission to a role. It reports whether anything changed.
func (s *Service) Grant(ctx context.Context, actor, roleName, permission string) (bool, error) {
	role, err := s.mutableRole(ctx, roleName)
	if err != nil {
		return false, err
	}
	ev := s.event(actor, audit.RolePermissionAdd, "role:"+role.Name, map[string]any{"role": role.Name, "permission": permission})
	return GrantPermission(ctx, s.store, role.Name, permission, ev)
}

// Revoke takes a permission from a role. It reports whether anything changed.
func (s *Service) Revoke(ctx context.Context, actor, roleName, permission string) (bool, error) {
	role, err := s.mutableRole(ctx, roleName)
	if err != nil {
		return false, err
	}
	ev := s.event(actor, audit.RolePermissionDrop, "role:"+role.Name, map[string]any{"role": role.Name, "permission": permission})
	return RevokePermission(ctx, s.store, role.Name, permission, ev)
}

// AddUserRole gives a user a role. It reports whether anything changed.
func (s *Service) AddUserRole(ctx context.Context, actor string, user uuid.UUID, roleName string) (bool, error) {
	role, err := s.store.Role(ctx, roleName)
	if err != nil {
		return false, err
	}
	ev := s.event(actor, audit.UserRoleAdded, "user:"+user.String(), map[string]any{"role": role.Name})
	return AddUserRole(ctx, s.store, user, role.Name, ev)
}

// RemoveUserRole takes a role from a user. It reports whether anything changed.
func (s *Service) RemoveUserRole(ctx context.Context, actor string, user uuid.UUID, roleName string) (bool, error) {
	role, err := s.store.Role(ctx, roleName)
	if err != nil {
		return false, err
	}
	ev := s.event(actor, audit.UserRoleRemoved, "user:"+user.String(), map[string]any{"role": role.Name})
	return RemoveUserRole(ctx, s.store, user, role.Name, ev)
}

// ApplySeed validates and applies a seed in one transaction. A dry run
// reports what applying would change, and changes nothing.
func (s *Service) ApplySeed(ctx context.Context, actor string, seed Seed, dryRun bool) (SeedReport, error) {
	if err := seed.Validate(); err != nil {
		return SeedReport{}, err
	}
	return ApplySeed(ctx, s.store, seed, actor, s.now().UTC(), dryRun)
}

// RoleNames resolves role names case-insensitively to their stored form.
func (s *Service) RoleNames(ctx context.Context, names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		r, err := s.store.Role(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, r.Name)
	}
	return out, nil
}

func (s *Service) mutableRole(ctx context.Context, name string) (Role, error) {
	return mutable(s.store.Role(ctx, name))
}

func (s *Service) event(actor, action, target string, details map[string]any) audit.Event {
	return audit.Event{At: s.now().UTC(), Actor: actor, Action: action, Target: target, Details: details}
}
