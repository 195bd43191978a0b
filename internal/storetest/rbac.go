package storetest

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
)

// Roles, permissions and grants: found ignoring case, listed sorted,
// granted and revoked idempotently and audited once per change.

func testIAMAdminRole(t *testing.T, s Store) {
	r := role(t, s, authz.AdminRole)
	if r.Name != authz.AdminRole || !r.Builtin {
		t.Errorf("Role(%s) = %q builtin %v, want builtin", authz.AdminRole, r.Name, r.Builtin)
	}
	wantStrings(t, "iam-admin permissions", r.Permissions,
		[]string{"iam.audit.read", "iam.roles.write", "iam.users.read", "iam.users.write"})
}

func testRoleIgnoresCase(t *testing.T, s Store) {
	applySeed(t, s, authz.Seed{
		Permissions: []authz.SeedPermission{{Code: "reports.view"}},
		Roles:       []authz.SeedRole{{Name: "Analyst", Description: "Reads reports", Permissions: []string{"reports.view"}}},
	})
	for _, name := range []string{"Analyst", "analyst", "ANALYST"} {
		r := role(t, s, name)
		if r.Name != "Analyst" || r.Description != "Reads reports" || r.Builtin {
			t.Errorf("Role(%q) = %+v, want Analyst as seeded", name, r)
		}
		wantStrings(t, "permissions", r.Permissions, []string{"reports.view"})
	}
	if _, err := s.Role(t.Context(), "Analysts"); !errors.Is(err, authz.ErrRoleNotFound) {
		t.Errorf("Role(Analysts) = %v, want ErrRoleNotFound", err)
	}
}

// Sorted means Go's byte order, whatever the database's collation: these
// lists end up in tokens and bundles that other programs compare.
func testListingsSorted(t *testing.T, s Store) {
	applySeed(t, s, authz.Seed{
		Permissions: []authz.SeedPermission{{Code: "shop_admin.read"}, {Code: "shop.read"}, {Code: "a.b"}},
		Roles: []authz.SeedRole{
			{Name: "auditor"}, {Name: "Reader", Permissions: []string{"shop_admin.read", "shop.read", "a.b"}},
		},
	})
	perms, err := s.Permissions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, p := range perms {
		codes = append(codes, p.Code)
	}
	wantStrings(t, "permissions", codes, []string{
		"a.b", "iam.audit.read", "iam.decisions.write", "iam.roles.write", "iam.users.read", "iam.users.write",
		"shop.read", "shop_admin.read"})

	roles, err := s.Roles(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range roles {
		names = append(names, r.Name)
		if r.Name == "Reader" {
			wantStrings(t, "Reader permissions", r.Permissions, []string{"a.b", "shop.read", "shop_admin.read"})
		}
	}
	wantStrings(t, "roles", names, []string{"Reader", "auditor", authz.AdminRole, "iam-decision-logger"})
}

func testGrantPermission(t *testing.T, s Store) {
	seedShop(t, s)
	before := countEvents(t, s, audit.RolePermissionAdd)
	ev := roleEvent(audit.RolePermissionAdd, "Clerk")
	for i, want := range []bool{true, false} {
		changed, err := authz.GrantPermission(t.Context(), s, "Clerk", "shop.write", ev)
		if err != nil || changed != want {
			t.Fatalf("GrantPermission call %d = %v, %v; want %v, nil", i+1, changed, err, want)
		}
	}
	wantStrings(t, "Clerk permissions", role(t, s, "Clerk").Permissions, []string{"shop.read", "shop.write"})
	if n := countEvents(t, s, audit.RolePermissionAdd) - before; n != 1 {
		t.Errorf("%d new %s events, want 1", n, audit.RolePermissionAdd)
	}
}

func testGrantPermissionNotFound(t *testing.T, s Store) {
	seedShop(t, s)
	before := countEvents(t, s, "")
	ev := roleEvent(audit.RolePermissionAdd, "Clerk")
	if _, err := authz.GrantPermission(t.Context(), s, "Clerk", "shop.delete", ev); !errors.Is(err, authz.ErrPermissionNotFound) {
		t.Errorf("GrantPermission(unknown permission) = %v, want ErrPermissionNotFound", err)
	}
	if _, err := authz.GrantPermission(t.Context(), s, "Cashier", "shop.read", ev); !errors.Is(err, authz.ErrRoleNotFound) {
		t.Errorf("GrantPermission(unknown role) = %v, want ErrRoleNotFound", err)
	}
	wantStrings(t, "Clerk permissions", role(t, s, "Clerk").Permissions, []string{"shop.read"})
	if n := countEvents(t, s, "") - before; n != 0 {
		t.Errorf("%d audit events for failed grants, want 0", n)
	}
}

func testRevokePermission(t *testing.T, s Store) {
	seedShop(t, s)
	before := countEvents(t, s, audit.RolePermissionDrop)
	ev := roleEvent(audit.RolePermissionDrop, "Clerk")
	for i, want := range []bool{true, false} {
		changed, err := authz.RevokePermission(t.Context(), s, "Clerk", "shop.read", ev)
		if err != nil || changed != want {
			t.Fatalf("RevokePermission call %d = %v, %v; want %v, nil", i+1, changed, err, want)
		}
	}
	wantStrings(t, "Clerk permissions", role(t, s, "Clerk").Permissions, []string{})
	if n := countEvents(t, s, audit.RolePermissionDrop) - before; n != 1 {
		t.Errorf("%d new %s events, want 1", n, audit.RolePermissionDrop)
	}
}

func testRevokePermissionNotFound(t *testing.T, s Store) {
	seedShop(t, s)
	before := countEvents(t, s, "")
	ev := roleEvent(audit.RolePermissionDrop, "Clerk")
	if _, err := authz.RevokePermission(t.Context(), s, "Clerk", "shop.delete", ev); !errors.Is(err, authz.ErrPermissionNotFound) {
		t.Errorf("RevokePermission(unknown permission) = %v, want ErrPermissionNotFound", err)
	}
	if _, err := authz.RevokePermission(t.Context(), s, "Cashier", "shop.read", ev); !errors.Is(err, authz.ErrRoleNotFound) {
		t.Errorf("RevokePermission(unknown role) = %v, want ErrRoleNotFound", err)
	}
	wantStrings(t, "Clerk permissions", role(t, s, "Clerk").Permissions, []string{"shop.read"})
	if n := countEvents(t, s, "") - before; n != 0 {
		t.Errorf("%d audit events for failed revokes, want 0", n)
	}
}

func testUserRoles(t *testing.T, s Store) {
	seedShop(t, s)
	u := createUser(t, s, "alice")
	added, removed := countEvents(t, s, audit.UserRoleAdded), countEvents(t, s, audit.UserRoleRemoved)
	add, remove := userEvent(audit.UserRoleAdded, u.ID), userEvent(audit.UserRoleRemoved, u.ID)
	steps := []struct {
		name string
		call func() (bool, error)
		want bool
	}{
		{"add", func() (bool, error) { return authz.AddUserRole(t.Context(), s, u.ID, "Clerk", add) }, true},
		{"add again", func() (bool, error) { return authz.AddUserRole(t.Context(), s, u.ID, "Clerk", add) }, false},
		{"remove", func() (bool, error) { return authz.RemoveUserRole(t.Context(), s, u.ID, "Clerk", remove) }, true},
		{"remove again", func() (bool, error) { return authz.RemoveUserRole(t.Context(), s, u.ID, "Clerk", remove) }, false},
		{"add back", func() (bool, error) { return authz.AddUserRole(t.Context(), s, u.ID, "Clerk", add) }, true},
	}
	for _, st := range steps {
		if changed, err := st.call(); err != nil || changed != st.want {
			t.Fatalf("%s = %v, %v; want %v, nil", st.name, changed, err, st.want)
		}
	}
	wantStrings(t, "roles", grants(t, s, u.ID).Roles, []string{"Clerk"})
	if n := countEvents(t, s, audit.UserRoleAdded) - added; n != 2 {
		t.Errorf("%d new %s events, want 2", n, audit.UserRoleAdded)
	}
	if n := countEvents(t, s, audit.UserRoleRemoved) - removed; n != 1 {
		t.Errorf("%d new %s events, want 1", n, audit.UserRoleRemoved)
	}
}

func testAddUserRoleNotFound(t *testing.T, s Store) {
	u := createUser(t, s, "alice")
	before := countEvents(t, s, "")
	if _, err := authz.AddUserRole(t.Context(), s, u.ID, "Cashier", userEvent(audit.UserRoleAdded, u.ID)); !errors.Is(err, authz.ErrRoleNotFound) {
		t.Errorf("AddUserRole(unknown role) = %v, want ErrRoleNotFound", err)
	}
	ghost := uuid.New()
	if _, err := authz.AddUserRole(t.Context(), s, ghost, authz.AdminRole, userEvent(audit.UserRoleAdded, ghost)); !errors.Is(err, identity.ErrUserNotFound) {
		t.Errorf("AddUserRole(unknown user) = %v, want ErrUserNotFound", err)
	}
	if n := countEvents(t, s, "") - before; n != 0 {
		t.Errorf("%d audit events for failed role changes, want 0", n)
	}
}

func testUserGrants(t *testing.T, s Store) {
	applySeed(t, s, authz.Seed{
		Permissions: []authz.SeedPermission{{Code: "shop.read"}, {Code: "shop.write"}, {Code: "shop_admin.read"}},
		Roles: []authz.SeedRole{
			{Name: "Writer", Permissions: []string{"shop.write", "shop.read"}},
			{Name: "Reader", Permissions: []string{"shop_admin.read", "shop.read"}},
			{Name: "Empty"},
		},
	})
	u := createUser(t, s, "alice", "Writer", "Reader", "Empty")
	createUser(t, s, "bob", authz.AdminRole)
	g := grants(t, s, u.ID)
	wantStrings(t, "roles", g.Roles, []string{"Empty", "Reader", "Writer"})
	wantStrings(t, "permissions", g.Permissions, []string{"shop.read", "shop.write", "shop_admin.read"})
}

func testUserGrantsEmpty(t *testing.T, s Store) {
	u := createUser(t, s, "alice")
	for name, id := range map[string]uuid.UUID{"user without roles": u.ID, "unknown user": uuid.New()} {
		g, err := s.UserGrants(t.Context(), id)
		if err != nil {
			t.Fatalf("UserGrants(%s): %v", name, err)
		}
		if g.Roles == nil || g.Permissions == nil || len(g.Roles)+len(g.Permissions) != 0 {
			t.Errorf("UserGrants(%s) = %#v, want empty non-nil slices", name, g)
		}
	}
}

func role(t *testing.T, s Store, name string) authz.Role {
	t.Helper()
	r, err := s.Role(t.Context(), name)
	if err != nil {
		t.Fatalf("Role(%q): %v", name, err)
	}
	return r
}

func roleEvent(action, role string) audit.Event {
	return audit.Event{At: at(1), Actor: audit.CLI, Action: action, Target: "role:" + role}
}

func grants(t *testing.T, s Store, user uuid.UUID) authz.Grants {
	t.Helper()
	g, err := s.UserGrants(t.Context(), user)
	if err != nil {
		t.Fatalf("UserGrants: %v", err)
	}
	return g
}
