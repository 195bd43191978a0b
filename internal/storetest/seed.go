package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
)

// Seeds declare permissions, roles and users; applying one is all or
// nothing, and a second apply changes nothing.

func shopSeed() authz.Seed {
	return authz.Seed{
		Permissions: []authz.SeedPermission{
			{Code: "shop.read", Description: "See the shop"}, {Code: "shop.write", Description: "Change the shop"},
		},
		Roles: []authz.SeedRole{
			{Name: "Clerk", Description: "Serves customers", Permissions: []string{"shop.read"}},
			{Name: "Manager", Permissions: []string{"shop.read", "shop.write"}},
		},
		Users: []authz.SeedUser{{Username: "carol", Roles: []string{"manager"}}},
	}
}

func seedShop(t *testing.T, s Store) { t.Helper(); applySeed(t, s, shopSeed()) }

func testSeedIdempotent(t *testing.T, s Store) {
	first := applySeed(t, s, shopSeed())
	// 2 permissions, 2 roles, 3 grants, 1 user, 1 user role.
	if len(first.Changes) != 9 {
		t.Errorf("first apply reported %d changes, want 9:\n%s", len(first.Changes), strings.Join(first.Changes, "\n"))
	}
	if n := countEvents(t, s, ""); n != len(first.Changes) {
		t.Errorf("first apply wrote %d audit events for %d changes, want one per change", n, len(first.Changes))
	}
	evs := events(t, s, audit.RoleCreated)
	if len(evs) != 2 || evs[0].Actor != "seeder" || !evs[0].At.Equal(at(1)) {
		t.Errorf("role.created events = %+v, want 2 by seeder at %v", evs, at(1))
	}

	second, err := authz.ApplySeed(t.Context(), s, shopSeed(), "seeder", at(2), false)
	if err != nil {
		t.Fatalf("second ApplySeed: %v", err)
	}
	if len(second.Changes) != 0 {
		t.Errorf("second apply reported changes %q, want none", second.Changes)
	}
	if n := countEvents(t, s, ""); n != len(first.Changes) {
		t.Errorf("second apply wrote %d audit events, want 0", n-len(first.Changes))
	}
}

func testSeedDescriptions(t *testing.T, s Store) {
	seedShop(t, s)
	sd := shopSeed()
	sd.Permissions[0].Description = "Look at the shop"
	sd.Roles[0].Description = "Serves customers politely"
	report := applySeed(t, s, sd)
	if len(report.Changes) != 2 {
		t.Errorf("changes %q, want 2 (one permission, one role)", report.Changes)
	}
	if r := role(t, s, "Clerk"); r.Description != "Serves customers politely" {
		t.Errorf("Clerk description = %q", r.Description)
	}
	perms, err := s.Permissions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range perms {
		if p.Code == "shop.read" && p.Description != "Look at the shop" {
			t.Errorf("shop.read description = %q", p.Description)
		}
	}
	if countEvents(t, s, audit.PermissionUpdated) != 1 || countEvents(t, s, audit.RoleUpdated) != 1 {
		t.Errorf("want one %s and one %s event", audit.PermissionUpdated, audit.RoleUpdated)
	}
}

func testSeedSyncsRolePermissions(t *testing.T, s Store) {
	seedShop(t, s)
	granted, revoked := countEvents(t, s, audit.RolePermissionAdd), countEvents(t, s, audit.RolePermissionDrop)
	report := applySeed(t, s, authz.Seed{
		Permissions: []authz.SeedPermission{{Code: "shop.refund"}},
		Roles:       []authz.SeedRole{{Name: "Clerk", Description: "Serves customers", Permissions: []string{"shop.write", "shop.refund"}}},
	})
	wantStrings(t, "Clerk permissions", role(t, s, "Clerk").Permissions, []string{"shop.refund", "shop.write"})
	wantStrings(t, "Manager permissions (not in the seed)", role(t, s, "Manager").Permissions, []string{"shop.read", "shop.write"})
	if len(report.Changes) != 4 {
		t.Errorf("changes %q, want 4: one permission, two grants, one revoke", report.Changes)
	}
	if n := countEvents(t, s, audit.RolePermissionAdd) - granted; n != 2 {
		t.Errorf("%d new grant events, want 2", n)
	}
	if n := countEvents(t, s, audit.RolePermissionDrop) - revoked; n != 1 {
		t.Errorf("%d new revoke events, want 1", n)
	}
}

func testSeedUnknownPermission(t *testing.T, s Store) {
	seedShop(t, s)
	before := countEvents(t, s, "")
	_, err := authz.ApplySeed(t.Context(), s, authz.Seed{
		Permissions: []authz.SeedPermission{{Code: "depot.read"}},
		Roles: []authz.SeedRole{
			{Name: "Clerk", Description: "Serves customers", Permissions: []string{"shop.write"}},
			{Name: "Porter", Permissions: []string{"depot.read", "depot.carry"}},
		},
		Users: []authz.SeedUser{{Username: "dave", Roles: []string{"Porter"}}},
	}, "seeder", at(2), false)
	if !errors.Is(err, authz.ErrPermissionNotFound) || !strings.Contains(fmt.Sprint(err), "depot.carry") {
		t.Fatalf("ApplySeed with unknown permission depot.carry = %v, want ErrPermissionNotFound naming it", err)
	}
	wantNothingApplied(t, s, before)
}

func testSeedUsers(t *testing.T, s Store) {
	seedShop(t, s)
	bob := createUser(t, s, "bob", "Clerk")

	_, key := identity.NormalizeUsername("Carol")
	carol, err := s.UserByUsernameKey(t.Context(), key)
	if err != nil {
		t.Fatalf("seeded user carol: %v", err)
	}
	if carol.Username != "carol" || carol.PasswordHash != "" || carol.State != identity.StateActive ||
		!carol.CreatedAt.Equal(at(1)) || carol.LastLoginAt != nil {
		t.Errorf("seeded carol = %+v, want active, no password, created at %v", carol, at(1))
	}
	wantStrings(t, "carol's roles", grants(t, s, carol.ID).Roles, []string{"Manager"})

	applySeed(t, s, authz.Seed{Users: []authz.SeedUser{{Username: "CAROL", Roles: []string{"Clerk", authz.AdminRole}}}})
	wantStrings(t, "carol's roles after re-seed", grants(t, s, carol.ID).Roles, []string{"Clerk", authz.AdminRole})
	if again := userByID(t, s, carol.ID); again.Username != "carol" {
		t.Errorf("re-seeding as CAROL renamed the user to %q", again.Username)
	}
	wantStrings(t, "bob's roles (not in the seed)", grants(t, s, bob.ID).Roles, []string{"Clerk"})
	if n := countEvents(t, s, audit.UserCreated); n != 2 {
		t.Errorf("%d %s events, want 2 (carol once, bob)", n, audit.UserCreated)
	}
}

func testSeedUnknownUserRole(t *testing.T, s Store) {
	seedShop(t, s)
	before := countEvents(t, s, "")
	_, err := authz.ApplySeed(t.Context(), s, authz.Seed{
		Permissions: []authz.SeedPermission{{Code: "depot.read"}},
		Roles:       []authz.SeedRole{{Name: "Porter", Permissions: []string{"depot.read"}}},
		Users: []authz.SeedUser{
			{Username: "carol", Roles: []string{"Clerk"}},
			{Username: "dave", Roles: []string{"Porter", "Janitor"}},
		},
	}, "seeder", at(2), false)
	if !errors.Is(err, authz.ErrRoleNotFound) || !strings.Contains(fmt.Sprint(err), "Janitor") {
		t.Fatalf("ApplySeed with unknown role Janitor = %v, want ErrRoleNotFound naming it", err)
	}
	wantNothingApplied(t, s, before)
}

// wantNothingApplied checks that a failed seed on top of shopSeed left the
// store as shopSeed made it.
func wantNothingApplied(t *testing.T, s Store, eventsBefore int) {
	t.Helper()
	perms, err := s.Permissions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range perms {
		if strings.HasPrefix(p.Code, "depot.") {
			t.Errorf("permission %s from the failed seed exists", p.Code)
		}
	}
	if _, err := s.Role(t.Context(), "Porter"); !errors.Is(err, authz.ErrRoleNotFound) {
		t.Errorf("Role(Porter) from the failed seed = %v, want ErrRoleNotFound", err)
	}
	wantStrings(t, "Clerk permissions", role(t, s, "Clerk").Permissions, []string{"shop.read"})
	_, key := identity.NormalizeUsername("dave")
	if _, err := s.UserByUsernameKey(t.Context(), key); !errors.Is(err, identity.ErrUserNotFound) {
		t.Errorf("user dave from the failed seed: %v, want ErrUserNotFound", err)
	}
	_, key = identity.NormalizeUsername("carol")
	if carol, err := s.UserByUsernameKey(t.Context(), key); err != nil {
		t.Error(err)
	} else {
		wantStrings(t, "carol's roles", grants(t, s, carol.ID).Roles, []string{"Manager"})
	}
	if n := countEvents(t, s, "") - eventsBefore; n != 0 {
		t.Errorf("the failed seed wrote %d audit events, want 0", n)
	}
}

func testSeedBuiltinRole(t *testing.T, s Store) {
	for _, name := range []string{authz.AdminRole, "IAM-Admin"} {
		_, err := authz.ApplySeed(t.Context(), s, authz.Seed{
			Roles: []authz.SeedRole{{Name: name, Permissions: []string{"iam.users.read"}}},
		}, "seeder", at(1), false)
		if !errors.Is(err, authz.ErrBuiltinRole) {
			t.Errorf("ApplySeed redefining %q = %v, want ErrBuiltinRole", name, err)
		}
	}
	testIAMAdminRole(t, s)
	if n := countEvents(t, s, ""); n != 0 {
		t.Errorf("%d audit events, want 0", n)
	}
}

// A seed is declarative: naming a thing twice declares it once.
func testSeedDuplicateEntries(t *testing.T, s Store) {
	seedShop(t, s)
	report := applySeed(t, s, authz.Seed{
		Roles: []authz.SeedRole{{Name: "Clerk", Description: "Serves customers", Permissions: []string{"shop.read", "shop.write", "shop.write"}}},
		Users: []authz.SeedUser{{Username: "carol", Roles: []string{"Manager", "Clerk", "clerk"}}},
	})
	if len(report.Changes) != 2 {
		t.Errorf("changes %q, want 2: one grant, one user role", report.Changes)
	}
	if n := countEvents(t, s, audit.RolePermissionAdd); n != 4 {
		t.Errorf("%d %s events, want 4 (3 from the first seed, 1 now)", n, audit.RolePermissionAdd)
	}
	if n := countEvents(t, s, audit.UserRoleAdded); n != 2 {
		t.Errorf("%d %s events, want 2 (1 from the first seed, 1 now)", n, audit.UserRoleAdded)
	}
}

func applySeed(t *testing.T, s Store, seed authz.Seed) authz.SeedReport {
	t.Helper()
	r, err := authz.ApplySeed(t.Context(), s, seed, "seeder", at(1), false)
	if err != nil {
		t.Fatalf("ApplySeed: %v", err)
	}
	return r
}
