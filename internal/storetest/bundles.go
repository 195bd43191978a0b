package storetest

import (
	"maps"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/bundle"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/tokens"
)

// Losing authority revokes the tokens that carry it: they would otherwise
// keep claiming a role, or a live account, until they expire.

func testRemoveUserRoleRevokes(t *testing.T, s Store) {
	seedShop(t, s)
	alice := createUser(t, s, "alice", "Clerk", "Manager")
	bob := createUser(t, s, "bob", "Clerk")
	removeRole := func(id uuid.UUID, role string, n int) bool {
		t.Helper()
		ev := userEvent(audit.UserRoleRemoved, id)
		ev.At = at(n)
		changed, err := authz.RemoveUserRole(t.Context(), s, id, role, ev)
		if err != nil {
			t.Fatalf("RemoveUserRole(%s): %v", role, err)
		}
		return changed
	}

	removeRole(alice.ID, "Clerk", 3)
	wantRevoked(t, s, alice.ID, at(3))
	wantNotRevoked(t, s, bob.ID)

	if removeRole(alice.ID, "Clerk", 5) {
		t.Fatal("removing a role the user lacks reported a change")
	}
	wantRevoked(t, s, alice.ID, at(3))

	// A revocation stamped earlier (a slow transaction) keeps the later time.
	removeRole(alice.ID, "Manager", 2)
	wantRevoked(t, s, alice.ID, at(3))

	if _, err := authz.AddUserRole(t.Context(), s, alice.ID, "Clerk", userEvent(audit.UserRoleAdded, alice.ID)); err != nil {
		t.Fatal(err)
	}
	removeRole(alice.ID, "Clerk", 6)
	wantRevoked(t, s, alice.ID, at(6))
}

// Old tokens lack a role added later: they claim less, not more.
func testAddUserRoleRevokesNothing(t *testing.T, s Store) {
	seedShop(t, s)
	alice := createUser(t, s, "alice")
	if _, err := authz.AddUserRole(t.Context(), s, alice.ID, "Clerk", userEvent(audit.UserRoleAdded, alice.ID)); err != nil {
		t.Fatal(err)
	}
	if revs := source(t, s).SubjectRevocations; len(revs) != 0 {
		t.Errorf("subject revocations %v after adding roles only, want none", revs)
	}
}

func testSetUserStateRevokes(t *testing.T, s Store) {
	alice := createUser(t, s, "alice")
	setState := func(state identity.State, n int) {
		t.Helper()
		if _, err := identity.SetUserState(t.Context(), s, alice.ID, state, at(n), userEvent(audit.UserDisabled, alice.ID)); err != nil {
			t.Fatalf("SetUserState(%s): %v", state, err)
		}
	}
	setState(identity.StateDisabled, 5)
	wantRevoked(t, s, alice.ID, at(5))
	setState(identity.StateDisabled, 6) // no change, no new revocation
	wantRevoked(t, s, alice.ID, at(5))
	setState(identity.StateActive, 7)
	wantRevoked(t, s, alice.ID, at(5))
	setState(identity.StateLocked, 8)
	wantRevoked(t, s, alice.ID, at(8))
}

func testSeedRevokes(t *testing.T, s Store) {
	seedShop(t, s) // carol: Manager
	_, key := identity.NormalizeUsername("carol")
	carol, err := s.UserByUsernameKey(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	wantNotRevoked(t, s, carol.ID)
	seed := authz.Seed{Users: []authz.SeedUser{{Username: "carol", Roles: []string{"Clerk"}}, {Username: "dave", Roles: []string{"Clerk"}}}}
	for _, n := range []int{4, 9} { // the second apply changes nothing
		if _, err := authz.ApplySeed(t.Context(), s, seed, "seeder", at(n), false); err != nil {
			t.Fatalf("ApplySeed: %v", err)
		}
	}
	wantRevoked(t, s, carol.ID, at(4))
	if revs := source(t, s).SubjectRevocations; len(revs) != 1 {
		t.Errorf("subject revocations %v, want carol's only: dave gained a role, lost none", revs)
	}
}

func testRevokeToken(t *testing.T, s Store) {
	ev := audit.Event{At: at(1), Actor: "user:1", Action: audit.TokenRevoked, Target: "token:jti-1"}
	for i, want := range []bool{true, false} {
		changed, err := s.RevokeToken(t.Context(), "jti-1", at(15), ev)
		if err != nil || changed != want {
			t.Fatalf("RevokeToken call %d = %v, %v; want %v, nil", i+1, changed, err, want)
		}
	}
	got := source(t, s).TokenRevocations
	if len(got) != 1 || !got["jti-1"].Equal(at(15)) {
		t.Errorf("token revocations %v, want jti-1 until %v", got, at(15))
	}
	evs := events(t, s, audit.TokenRevoked)
	if len(evs) != 1 {
		t.Fatalf("%d %s events, want 1", len(evs), audit.TokenRevoked)
	}
	wantEvent(t, evs[0], ev)
}

// Every role is listed, with its permissions in byte order and an empty,
// not missing, list when it has none: the policy looks roles up by name.
func testBundleSource(t *testing.T, s Store) {
	applySeed(t, s, authz.Seed{
		Permissions: []authz.SeedPermission{{Code: "shop_admin.read"}, {Code: "shop.read"}, {Code: "a.b"}},
		Roles: []authz.SeedRole{
			{Name: "auditor"}, {Name: "Reader", Permissions: []string{"shop_admin.read", "shop.read", "a.b"}},
		},
	})
	src := source(t, s)
	want := map[string][]string{
		"Reader":              {"a.b", "shop.read", "shop_admin.read"},
		"auditor":             {},
		authz.AdminRole:       {"iam.audit.read", "iam.roles.write", "iam.users.read", "iam.users.write"},
		"iam-decision-logger": {"iam.decisions.write"},
	}
	if !maps.EqualFunc(src.Roles, want, func(a, b []string) bool { return a != nil && slices.Equal(a, b) }) {
		t.Errorf("roles %#v, want %#v", src.Roles, want)
	}
	if len(src.SubjectRevocations)+len(src.TokenRevocations) != 0 {
		t.Errorf("revocations %v %v on a fresh store, want none", src.SubjectRevocations, src.TokenRevocations)
	}
	if v := bundleVersion(t, s); src.Version != v {
		t.Errorf("source version %d, BundleVersion %d: want the same when nothing changes between", src.Version, v)
	}
}

// The version moves with every change the bundle shows, and not with
// logins and user records, which are frequent and change nothing in it.
func testBundleVersion(t *testing.T, s Store) {
	seedShop(t, s)
	last := bundleVersion(t, s)
	step := func(what string, moves bool, change func() error) {
		t.Helper()
		if err := change(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		v := bundleVersion(t, s)
		if moved := v != last; moved != moves {
			t.Errorf("%s: version %d → %d, want moved=%v", what, last, v, moves)
		}
		if v < last {
			t.Errorf("%s: version went back from %d to %d", what, last, v)
		}
		if sv := source(t, s).Version; sv != v {
			t.Errorf("%s: source version %d, BundleVersion %d", what, sv, v)
		}
		last = v
	}
	alice := newUser("alice")
	step("create user", false, func() error {
		return identity.CreateUser(t.Context(), s, alice, nil, userEvent(audit.UserCreated, alice.ID))
	})
	step("record login", false, func() error {
		return s.RecordLogin(t.Context(), alice.ID, at(2), userEvent(audit.LoginSucceeded, alice.ID))
	})
	step("set password", false, func() error {
		return identity.SetPasswordHash(t.Context(), s, alice.ID, "$argon2id$x", at(2), userEvent(audit.UserPasswordSet, alice.ID))
	})
	step("grant permission", true, func() error {
		_, err := authz.GrantPermission(t.Context(), s, "Clerk", "shop.write", roleEvent(audit.RolePermissionAdd, "Clerk"))
		return err
	})
	step("revoke permission", true, func() error {
		_, err := authz.RevokePermission(t.Context(), s, "Clerk", "shop.write", roleEvent(audit.RolePermissionDrop, "Clerk"))
		return err
	})
	step("seed a role", true, func() error {
		_, err := authz.ApplySeed(t.Context(), s, authz.Seed{Roles: []authz.SeedRole{{Name: "Porter"}}}, "seeder", at(3), false)
		return err
	})
	step("disable user", true, func() error {
		_, err := identity.SetUserState(t.Context(), s, alice.ID, identity.StateDisabled, at(4), userEvent(audit.UserDisabled, alice.ID))
		return err
	})
	step("revoke token", true, func() error {
		_, err := s.RevokeToken(t.Context(), "jti-1", at(20), audit.Event{At: at(4), Actor: audit.CLI, Action: audit.TokenRevoked})
		return err
	})
	step("store signing key", true, func() error {
		var calls atomic.Int32
		_, err := tokens.EnsureSigningKey(t.Context(), s, countingGenerate(&calls))
		return err
	})
	step("rotate signing key", true, func() error { return tokens.RotateSigningKey(t.Context(), s, keyRotation(2, false)) })
	step("prune retired signing key", true, func() error {
		_, err := tokens.PruneSigningKeys(t.Context(), s, at(100), audit.CLI)
		return err
	})
}

func source(t *testing.T, s Store) bundle.Source {
	t.Helper()
	src, err := bundle.ReadSource(t.Context(), s)
	if err != nil {
		t.Fatalf("BundleSource: %v", err)
	}
	return src
}

func bundleVersion(t *testing.T, s Store) int64 {
	t.Helper()
	v, err := s.BundleVersion(t.Context())
	if err != nil {
		t.Fatalf("BundleVersion: %v", err)
	}
	return v
}

func wantRevoked(t *testing.T, s Store, user uuid.UUID, notBefore time.Time) {
	t.Helper()
	got, ok := source(t, s).SubjectRevocations[user.String()]
	if !ok || !got.Equal(notBefore) {
		t.Errorf("subject revocation of %s = %v (present %v), want %v", user, got, ok, notBefore)
	}
}

func wantNotRevoked(t *testing.T, s Store, user uuid.UUID) {
	t.Helper()
	if got, ok := source(t, s).SubjectRevocations[user.String()]; ok {
		t.Errorf("subject %s revoked at %v, want no revocation", user, got)
	}
}
