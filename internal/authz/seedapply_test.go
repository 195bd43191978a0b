package authz_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
)

// A seed's audit events come after all of its other statements: appending
// one takes the chain's lock until commit, and a transaction holding it
// while it still waits for rows deadlocks with a writer that holds those
// rows and waits for the chain.
func TestApplySeed_AppendsAuditEventsLast(t *testing.T) {
	tx := &recordingTx{}
	seed := authz.Seed{
		Permissions: []authz.SeedPermission{{Code: "shop.read"}},
		Roles:       []authz.SeedRole{{Name: "Clerk", Permissions: []string{"shop.read"}}},
		Users:       []authz.SeedUser{{Username: "carol", Roles: []string{"Clerk"}}},
	}
	report, err := authz.ApplySeed(t.Context(), recordingStore{tx}, seed, audit.CLI, time.Now(), false)
	if err != nil {
		t.Fatalf("ApplySeed: %v", err)
	}
	first := slices.Index(tx.calls, "Audit")
	if first < 0 || slices.ContainsFunc(tx.calls[first:], func(c string) bool { return c != "Audit" }) {
		t.Errorf("statements %q: want every Audit after every other statement", tx.calls)
	}
	if audits := len(tx.calls) - first; audits != len(report.Changes) {
		t.Errorf("%d audit events for %d changes %q", audits, len(report.Changes), report.Changes)
	}
}

// recordingStore runs every RBAC transaction on one recordingTx.
type recordingStore struct{ tx *recordingTx }

func (s recordingStore) RBACTx(_ context.Context, fn func(authz.Tx) error) error { return fn(s.tx) }

func (recordingStore) Permissions(context.Context) ([]authz.Permission, error) { return nil, nil }
func (recordingStore) Roles(context.Context) ([]authz.Role, error)             { return nil, nil }
func (recordingStore) Role(context.Context, string) (authz.Role, error)        { return authz.Role{}, nil }
func (recordingStore) UserGrants(context.Context, uuid.UUID) (authz.Grants, error) {
	return authz.Grants{}, nil
}
func (recordingStore) GrantPermission(context.Context, string, string, audit.Event) (bool, error) {
	return false, nil
}
func (recordingStore) RevokePermission(context.Context, string, string, audit.Event) (bool, error) {
	return false, nil
}
func (recordingStore) AddUserRole(context.Context, uuid.UUID, string, audit.Event) (bool, error) {
	return false, nil
}
func (recordingStore) RemoveUserRole(context.Context, uuid.UUID, string, audit.Event) (bool, error) {
	return false, nil
}

// recordingTx is an empty database that keeps what it is given and
// records the name of every statement in order.
type recordingTx struct {
	calls []string
	perms []string
	roles []string
}

func (t *recordingTx) call(name string) { t.calls = append(t.calls, name) }

func (t *recordingTx) Permission(_ context.Context, code string) (authz.Permission, error) {
	t.call("Permission")
	if !slices.Contains(t.perms, code) {
		return authz.Permission{}, fmt.Errorf("%w: %q", authz.ErrPermissionNotFound, code)
	}
	return authz.Permission{Code: code}, nil
}

func (t *recordingTx) CreatePermission(_ context.Context, p authz.Permission, _ time.Time) error {
	t.call("CreatePermission")
	t.perms = append(t.perms, p.Code)
	return nil
}

func (t *recordingTx) SetPermissionDescription(context.Context, string, string) error {
	t.call("SetPermissionDescription")
	return nil
}

func (t *recordingTx) RevokeFromAllRoles(context.Context, string) ([]string, error) {
	t.call("RevokeFromAllRoles")
	return nil, nil
}

func (t *recordingTx) DeletePermission(context.Context, string) error {
	t.call("DeletePermission")
	return nil
}

func (t *recordingTx) Role(_ context.Context, name string) (authz.Role, error) {
	t.call("Role")
	i := slices.IndexFunc(t.roles, func(r string) bool { return strings.EqualFold(r, name) })
	if i < 0 {
		return authz.Role{}, fmt.Errorf("%w: %q", authz.ErrRoleNotFound, name)
	}
	return authz.Role{Name: t.roles[i]}, nil
}

func (t *recordingTx) CreateRole(_ context.Context, name, _ string, _ time.Time) error {
	t.call("CreateRole")
	t.roles = append(t.roles, name)
	return nil
}

func (t *recordingTx) SetRoleDescription(context.Context, string, string) error {
	t.call("SetRoleDescription")
	return nil
}

func (t *recordingTx) RoleHolders(context.Context, string) ([]uuid.UUID, error) {
	t.call("RoleHolders")
	return nil, nil
}

func (t *recordingTx) DeleteRole(context.Context, string) error {
	t.call("DeleteRole")
	return nil
}

func (t *recordingTx) Grant(context.Context, string, string) (bool, error) {
	t.call("Grant")
	return true, nil
}

func (t *recordingTx) Revoke(context.Context, string, string) (bool, error) {
	t.call("Revoke")
	return true, nil
}

func (t *recordingTx) User(context.Context, string) (identity.User, error) {
	t.call("User")
	return identity.User{}, identity.ErrUserNotFound
}

func (t *recordingTx) CreateUser(context.Context, identity.User) error {
	t.call("CreateUser")
	return nil
}

func (t *recordingTx) SetUserState(context.Context, uuid.UUID, identity.State, time.Time) error {
	t.call("SetUserState")
	return nil
}

func (t *recordingTx) SetPasswordHash(context.Context, uuid.UUID, string, time.Time) error {
	t.call("SetPasswordHash")
	return nil
}

func (t *recordingTx) UserRoles(context.Context, uuid.UUID) ([]string, error) {
	t.call("UserRoles")
	return nil, nil
}

func (t *recordingTx) AddUserRole(context.Context, uuid.UUID, string) (bool, error) {
	t.call("AddUserRole")
	return true, nil
}

func (t *recordingTx) RemoveUserRole(context.Context, uuid.UUID, string) (bool, error) {
	t.call("RemoveUserRole")
	return true, nil
}

func (t *recordingTx) RevokeSubject(context.Context, uuid.UUID, time.Time) error {
	t.call("RevokeSubject")
	return nil
}

func (t *recordingTx) EndConsoleSessions(context.Context, uuid.UUID) error {
	t.call("EndConsoleSessions")
	return nil
}

func (t *recordingTx) Audit(context.Context, audit.Event) error {
	t.call("Audit")
	return nil
}
