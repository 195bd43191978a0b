package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
)

// The store methods behind the admin API.
var adminContract = []contractTest{
	{"UserPage_SearchesKeysAndPagesAfterAKey", testUserPage},
	{"DeleteRole_TakesItFromHoldersAndRevokesThem", testDeleteRole},
	{"DeletePermission_TakesItFromEveryRole", testDeletePermission},
	{"CreateRoleAndPermission_ExistingNameIsAConflict", testCreateRoleConflict},
	{"RevokeSubject_MovesForwardOnlyAndAudits", testRevokeSubject},
	{"AuditTail_BeforeAnIDAndSinceATime", testAuditTailBeforeSince},
}

func testUserPage(t *testing.T, s Store) {
	for _, name := range []string{"carol", "bob_smith", "Bob", "alice", "Dave", "Bob.Smith", "xbobx"} {
		createUser(t, s, name)
	}
	page := func(q identity.UserQuery) []string {
		t.Helper()
		users, err := s.UserPage(t.Context(), q)
		if err != nil {
			t.Fatalf("UserPage(%+v): %v", q, err)
		}
		return usernames(users)
	}
	wantStrings(t, "first 3", page(identity.UserQuery{Limit: 3}), []string{"alice", "Bob", "Bob.Smith"})
	wantStrings(t, "after bob.smith", page(identity.UserQuery{After: "bob.smith", Limit: 3}), []string{"bob_smith", "carol", "Dave"})
	wantStrings(t, "search bob", page(identity.UserQuery{Search: "bob", Limit: 10}), []string{"Bob", "Bob.Smith", "bob_smith", "xbobx"})
	wantStrings(t, "search bob after bob", page(identity.UserQuery{Search: "bob", After: "bob", Limit: 2}), []string{"Bob.Smith", "bob_smith"})
	// "_" and "%" are characters, not patterns.
	wantStrings(t, "search _", page(identity.UserQuery{Search: "_", Limit: 10}), []string{"bob_smith"})
	wantStrings(t, "search %", page(identity.UserQuery{Search: "%", Limit: 10}), nil)
}

func testDeleteRole(t *testing.T, s Store) {
	seedShop(t, s) // carol is a Manager
	svc := authz.NewService(s, func() time.Time { return at(5) })
	robot := createServiceAccount(t, s, "robot", "Manager")
	versionBefore := bundleVersion(t, s)
	if err := svc.DeleteRole(t.Context(), "admin", "manager"); err != nil {
		t.Fatalf("DeleteRole: %v", err)
	}
	if _, err := s.Role(t.Context(), "Manager"); !errors.Is(err, authz.ErrRoleNotFound) {
		t.Errorf("Role after delete: %v, want ErrRoleNotFound", err)
	}
	carol := userByName(t, s, "carol")
	if g, _ := s.UserGrants(t.Context(), carol.ID); len(g.Roles) != 0 {
		t.Errorf("carol's roles %q, want none", g.Roles)
	}
	if g, _ := s.ServiceAccountGrants(t.Context(), robot.ID); len(g.Roles) != 0 {
		t.Errorf("robot's roles %q, want none", g.Roles)
	}
	wantRevoked(t, s, carol.ID, at(5))
	wantRevoked(t, s, robot.ID, at(5))
	if bundleVersion(t, s) == versionBefore {
		t.Error("bundle version did not move")
	}
	evs := events(t, s, audit.RoleDeleted)
	if len(evs) != 1 || evs[0].Actor != "admin" || evs[0].Target != "role:Manager" {
		t.Errorf("role.deleted events %+v, want one by admin on role:Manager", evs)
	}
	if err := svc.DeleteRole(t.Context(), "admin", authz.AdminRole); !errors.Is(err, authz.ErrBuiltinRole) {
		t.Errorf("DeleteRole(%s) = %v, want ErrBuiltinRole", authz.AdminRole, err)
	}
	if err := svc.DeleteRole(t.Context(), "admin", "Manager"); !errors.Is(err, authz.ErrRoleNotFound) {
		t.Errorf("DeleteRole again = %v, want ErrRoleNotFound", err)
	}
}

func testDeletePermission(t *testing.T, s Store) {
	seedShop(t, s)
	svc := authz.NewService(s, func() time.Time { return at(5) })
	if err := svc.DeletePermission(t.Context(), "admin", "shop.read"); err != nil {
		t.Fatalf("DeletePermission: %v", err)
	}
	for _, name := range []string{"Clerk", "Manager"} {
		r, err := s.Role(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(r.Permissions, "shop.read") {
			t.Errorf("role %s still has shop.read: %q", name, r.Permissions)
		}
	}
	evs := events(t, s, audit.PermissionDeleted)
	if len(evs) != 1 {
		t.Fatalf("%d permission.deleted events, want 1", len(evs))
	}
	wantStrings(t, "roles in the event", toStrings(evs[0].Details["roles"]), []string{"Clerk", "Manager"})
	if err := svc.DeletePermission(t.Context(), "admin", "shop.read"); !errors.Is(err, authz.ErrPermissionNotFound) {
		t.Errorf("DeletePermission again = %v, want ErrPermissionNotFound", err)
	}
	if err := svc.DeletePermission(t.Context(), "admin", "iam.users.read"); !errors.Is(err, authz.ErrBuiltinPermission) {
		t.Errorf("DeletePermission(iam.users.read) = %v, want ErrBuiltinPermission", err)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func testCreateRoleConflict(t *testing.T, s Store) {
	seedShop(t, s)
	svc := authz.NewService(s, func() time.Time { return at(5) })
	if _, err := svc.CreateRole(t.Context(), "admin", "MANAGER", ""); !errors.Is(err, authz.ErrRoleExists) {
		t.Errorf("CreateRole(MANAGER) = %v, want ErrRoleExists", err)
	}
	if _, err := svc.CreatePermission(t.Context(), "admin", "shop.read", ""); !errors.Is(err, authz.ErrPermissionExists) {
		t.Errorf("CreatePermission(shop.read) = %v, want ErrPermissionExists", err)
	}
	if _, err := svc.CreateRole(t.Context(), "admin", "Auditor", "Reads"); err != nil {
		t.Fatalf("CreateRole: %v", err)
	}
	if changed, err := svc.SetRoleDescription(t.Context(), "admin", "auditor", "Reads"); err != nil || changed {
		t.Errorf("SetRoleDescription to the same = %v, %v; want false, nil", changed, err)
	}
	if changed, err := svc.SetRoleDescription(t.Context(), "admin", "auditor", "Reads the trail"); err != nil || !changed {
		t.Errorf("SetRoleDescription = %v, %v; want true, nil", changed, err)
	}
	if r, _ := s.Role(t.Context(), "Auditor"); r.Description != "Reads the trail" {
		t.Errorf("description %q", r.Description)
	}
	if n := countEvents(t, s, audit.RoleUpdated); n != 1 {
		t.Errorf("%d role.updated events, want 1", n)
	}
}

func testRevokeSubject(t *testing.T, s Store) {
	u := createUser(t, s, "alice")
	ev := audit.Event{At: at(3), Actor: "user:admin", Action: audit.SubjectRevoked, Target: identity.Target(u.ID)}
	if err := s.RevokeSubject(t.Context(), u.ID, at(3), ev); err != nil {
		t.Fatalf("RevokeSubject: %v", err)
	}
	if err := s.RevokeSubject(t.Context(), u.ID, at(2), ev); err != nil {
		t.Fatalf("RevokeSubject earlier: %v", err)
	}
	wantRevoked(t, s, u.ID, at(3))
	if n := countEvents(t, s, audit.SubjectRevoked); n != 2 {
		t.Errorf("%d subject.revoked events, want 2", n)
	}
}

func testAuditTailBeforeSince(t *testing.T, s Store) {
	for i := 1; i <= 5; i++ {
		if err := s.AppendAudit(t.Context(), audit.Event{At: at(i), Actor: "user:a", Action: audit.LoginSucceeded}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.AuditTail(t.Context(), audit.TailQuery{Last: true, Limit: 10})
	if err != nil || len(all) != 5 {
		t.Fatalf("AuditTail = %d events, %v", len(all), err)
	}
	minutes := func(q audit.TailQuery) []time.Time {
		t.Helper()
		evs, err := s.AuditTail(t.Context(), q)
		if err != nil {
			t.Fatalf("AuditTail(%+v): %v", q, err)
		}
		var out []time.Time
		for _, e := range evs {
			out = append(out, e.At)
		}
		return out
	}
	got := minutes(audit.TailQuery{Last: true, Limit: 2, Before: all[3].ID})
	if len(got) != 2 || !got[0].Equal(at(2)) || !got[1].Equal(at(3)) {
		t.Errorf("last 2 before the 4th = %v, want minutes 2 and 3", got)
	}
	got = minutes(audit.TailQuery{Last: true, Limit: 10, Since: audit.Truncate(at(4))})
	if len(got) != 2 || !got[0].Equal(at(4)) {
		t.Errorf("since minute 4 = %v, want minutes 4 and 5", got)
	}
}
