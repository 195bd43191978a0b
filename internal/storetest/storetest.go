// Package storetest is the behaviour every implementation of Gaia IAM's
// stores must show, as one suite each implementation runs against itself.
// It tests through the store interfaces only; import it from tests only.
package storetest

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/bundle"
	"github.com/gaia-platform/iam/internal/decisionlog"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/serviceaccount"
	"github.com/gaia-platform/iam/internal/throttle"
	"github.com/gaia-platform/iam/internal/tokens"
)

// Store is everything the IAM asks of its storage.
type Store interface {
	identity.Store
	authz.Store
	tokens.KeyStore
	tokens.RevocationStore
	tokens.RefreshStore
	bundle.Store
	serviceaccount.Store
	decisionlog.Store
	throttle.Store
	AuditEvents(ctx context.Context, action string, limit int) ([]audit.Stored, error)
	AuditChain(ctx context.Context, after int64, limit int) ([]audit.Link, error)
	AuditTail(ctx context.Context, q audit.TailQuery) ([]audit.Stored, error)
}

// Run runs the contract. open returns a fresh, migrated store of its own
// for each subtest and releases it when that subtest ends.
func Run(t *testing.T, open func(t *testing.T) Store) {
	for _, c := range slices.Concat(contract, serviceAccountContract, adminContract, keyRotationContract, decisionLogContract, throttlingContract) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.test(t, open(t))
		})
	}
}

// contractTest is one rule of the store contract, run on a fresh store.
type contractTest struct {
	name string
	test func(*testing.T, Store)
}

var contract = []contractTest{
	{"CreateUser_RoundTripsEveryField", testCreateUserRoundTrip},
	{"UserByUsernameKey_IgnoresCaseAndWidth", testLookupIgnoresCaseAndWidth},
	{"UserLookups_MissingUserIsNotFound", testLookupMissingUser},
	{"CreateUser_DuplicateUsernameIsTakenAndNotAudited", testCreateUserDuplicate},
	{"CreateUser_UnknownRoleCreatesNothing", testCreateUserUnknownRole},
	{"CreateUser_LinksRoles", testCreateUserLinksRoles},
	{"Users_OrderedByUsernameIgnoringCase", testUsersOrder},
	{"SetUserState_ReportsChangeOnceAndAuditsOnce", testSetUserState},
	{"UserUpdates_MissingUserIsNotFound", testUserUpdatesMissingUser},
	{"SetPasswordHash_StoresHashAndAudits", testSetPasswordHash},
	{"RecordLogin_SetsLastLoginAt", testRecordLogin},
	{"RecordLoginUpgradingHash_ReplacesHashWithTheLogin", testLoginUpgradesHash},
	{"RecordLoginUpgradingHash_AChangedHashWins", testLoginUpgradeLosesToAChangedHash},
	{"RecordLoginUpgradingHash_MissingUserIsNotFound", testLoginUpgradeMissingUser},
	{"AuditEvents_NewestFirstFilteredAndLimited", testAuditEvents},
	{"AuditChain_ConcurrentWritersMakeOneValidChain", testAuditChainConcurrentWriters},
	{"AuditTail_FiltersByActorAndTypeOldestFirst", testAuditTail},

	{"IAMAdminRole_IsBuiltinWithIAMPermissions", testIAMAdminRole},

	{"RefreshRotation_SpendsTheTokenAndAuditsIt", testRefreshRotation},
	{"RefreshRotation_ReuseRevokesFamilyAndSubject", testRefreshReuse},
	{"RefreshRotation_ConcurrentRotationsHaveOneWinner", testRefreshConcurrent},
	{"RefreshRotation_RetryWithinGraceGetsTheSameSuccessor", testRefreshGrace},
	{"RefreshRotation_RetryAfterGraceIsReuse", testRefreshGraceOver},
	{"RefreshRotation_ConcurrentRetriesShareOneSuccessor", testRefreshConcurrentRetries},
	{"RefreshRotation_ExpiredIdleAndDisabledAreRefused", testRefreshRefusals},
	{"RefreshFamilies_RevokeOnlyTheOwnersAndListActive", testRefreshFamilies},
	{"Role_FoundIgnoringCase", testRoleIgnoresCase},
	{"PermissionsAndRoles_SortedBytewise", testListingsSorted},
	{"GrantPermission_IsIdempotentAndAuditedOnce", testGrantPermission},
	{"GrantPermission_UnknownRoleOrPermissionIsNotFound", testGrantPermissionNotFound},
	{"RevokePermission_IsIdempotentAndAuditedOnce", testRevokePermission},
	{"RevokePermission_UnknownRoleOrPermissionIsNotFound", testRevokePermissionNotFound},
	{"UserRoles_AddAndRemoveReportChanges", testUserRoles},
	{"AddUserRole_UnknownRoleOrUserIsNotFound", testAddUserRoleNotFound},
	{"UserGrants_SortedUnionWithoutDuplicates", testUserGrants},
	{"UserGrants_NoRolesIsEmptyNotError", testUserGrantsEmpty},

	{"ApplySeed_SecondApplyChangesNothing", testSeedIdempotent},
	{"ApplySeed_ChangedDescriptionsAreUpdated", testSeedDescriptions},
	{"ApplySeed_SyncsRolePermissionsExactly", testSeedSyncsRolePermissions},
	{"ApplySeed_UnknownPermissionAppliesNothing", testSeedUnknownPermission},
	{"ApplySeed_CreatesUsersWithoutPasswordAndSyncsRoles", testSeedUsers},
	{"ApplySeed_UnknownUserRoleAppliesNothing", testSeedUnknownUserRole},
	{"ApplySeed_RefusesToRedefineIAMAdmin", testSeedBuiltinRole},
	{"ApplySeed_DuplicateEntriesRecordOneChange", testSeedDuplicateEntries},
	{"ApplySeed_CreatesUsersWithPasswordHashAndState", testSeedCreatesUsersWithHashAndState},
	{"ApplySeed_SyncsUserStateAndRevokesOnLeavingActive", testSeedSyncsUserState},
	{"ApplySeed_SetsPasswordHashOnlyOverEmptyOrLegacy", testSeedSetsPasswordHashOnlyOverEmptyOrLegacy},
	{"ApplySeed_DryRunReportsTheSameAndChangesNothing", testSeedDryRun},

	{"EnsureSigningKey_GeneratesOnceThenReturnsStoredKey", testSigningKeyOnce},
	{"EnsureSigningKey_ConcurrentCallersShareOneKey", testSigningKeyConcurrent},
	{"EnsureSigningKey_GenerateErrorStoresNothing", testSigningKeyGenerateError},

	{"RemoveUserRole_RevokesTheUsersTokens", testRemoveUserRoleRevokes},
	{"AddUserRole_RevokesNothing", testAddUserRoleRevokesNothing},
	{"SetUserState_LeavingActiveRevokesTheUsersTokens", testSetUserStateRevokes},
	{"ApplySeed_RemovedUserRoleRevokesTheUsersTokens", testSeedRevokes},
	{"RevokeToken_IsIdempotentAndAuditedOnce", testRevokeToken},
	{"BundleSource_ListsEveryRoleSortedAndEmptyNotMissing", testBundleSource},
	{"BundleVersion_MovesWithBundleDataNotWithLogins", testBundleVersion},
}

// --- users ---------------------------------------------------------------

func testCreateUserRoundTrip(t *testing.T, s Store) {
	lastLogin := at(9)
	u := identity.User{
		ID:           uuid.New(),
		Username:     "Zoë",
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA",
		State:        identity.StateLocked,
		CreatedAt:    at(1).In(time.FixedZone("UTC+5", 5*3600)),
		UpdatedAt:    at(2),
		LastLoginAt:  &lastLogin, // ignored: a new user has never logged in
	}
	ev := audit.Event{At: at(1), Actor: audit.CLI, Action: audit.UserCreated, Target: identity.Target(u.ID),
		IP: "192.0.2.7", Details: map[string]any{"username": "Zoë", "roles": []any{}}}
	if err := s.CreateUser(t.Context(), u, nil, ev); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	u.LastLoginAt = nil

	_, key := identity.NormalizeUsername(u.Username)
	got, err := s.UserByUsernameKey(t.Context(), key)
	if err != nil {
		t.Fatalf("UserByUsernameKey(%q): %v", key, err)
	}
	wantUser(t, got, u)
	if got, err = s.UserByID(t.Context(), u.ID); err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	wantUser(t, got, u)

	evs := events(t, s, audit.UserCreated)
	if len(evs) != 1 {
		t.Fatalf("%d %s events, want 1", len(evs), audit.UserCreated)
	}
	wantEvent(t, evs[0], ev)
}

func testLookupIgnoresCaseAndWidth(t *testing.T, s Store) {
	alice := createUser(t, s, "Alice")
	strasse := createUser(t, s, "Straße")
	for _, tc := range []struct {
		typed string
		want  identity.User
	}{
		{"Alice", alice}, {"alice", alice}, {"ALICE", alice}, {"Ａｌｉｃｅ", alice}, {"  alice ", alice},
		{"STRASSE", strasse}, {"strasse", strasse},
	} {
		_, key := identity.NormalizeUsername(tc.typed)
		got, err := s.UserByUsernameKey(t.Context(), key)
		if err != nil {
			t.Errorf("UserByUsernameKey(key of %q): %v", tc.typed, err)
			continue
		}
		wantUser(t, got, tc.want)
	}
}

func testLookupMissingUser(t *testing.T, s Store) {
	createUser(t, s, "alice")
	if _, err := s.UserByUsernameKey(t.Context(), "bob"); !errors.Is(err, identity.ErrUserNotFound) {
		t.Errorf("UserByUsernameKey(bob) = %v, want ErrUserNotFound", err)
	}
	if _, err := s.UserByID(t.Context(), uuid.New()); !errors.Is(err, identity.ErrUserNotFound) {
		t.Errorf("UserByID(unknown) = %v, want ErrUserNotFound", err)
	}
}

func testCreateUserDuplicate(t *testing.T, s Store) {
	alice := createUser(t, s, "Alice")
	for _, typed := range []string{"alice", "ALICE", "ＡＬＩＣＥ"} {
		display, _ := identity.NormalizeUsername(typed)
		u := newUser(display)
		err := s.CreateUser(t.Context(), u, nil, userEvent(audit.UserCreated, u.ID))
		if !errors.Is(err, identity.ErrUsernameTaken) {
			t.Errorf("CreateUser(%q) after Alice = %v, want ErrUsernameTaken", typed, err)
		}
		if _, err := s.UserByID(t.Context(), u.ID); !errors.Is(err, identity.ErrUserNotFound) {
			t.Errorf("UserByID of rejected %q = %v, want ErrUserNotFound", typed, err)
		}
	}
	if n := countEvents(t, s, audit.UserCreated); n != 1 {
		t.Errorf("%d %s events, want 1: failed attempts must not be audited", n, audit.UserCreated)
	}
	users, err := s.Users(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].ID != alice.ID {
		t.Errorf("Users() = %v, want only Alice", usernames(users))
	}
}

func testCreateUserUnknownRole(t *testing.T, s Store) {
	u := newUser("alice")
	err := s.CreateUser(t.Context(), u, []string{authz.AdminRole, "no-such-role"}, userEvent(audit.UserCreated, u.ID))
	if !errors.Is(err, authz.ErrRoleNotFound) {
		t.Fatalf("CreateUser with an unknown role = %v, want ErrRoleNotFound", err)
	}
	if _, err := s.UserByID(t.Context(), u.ID); !errors.Is(err, identity.ErrUserNotFound) {
		t.Errorf("UserByID after the failed create = %v, want ErrUserNotFound", err)
	}
	if n := countEvents(t, s, ""); n != 0 {
		t.Errorf("%d audit events after a failed create, want 0", n)
	}

	// Nothing of the failed attempt survives: not the username, not the
	// role link made before the unknown role was reached.
	if err := s.CreateUser(t.Context(), u, nil, userEvent(audit.UserCreated, u.ID)); err != nil {
		t.Fatalf("CreateUser again without roles: %v", err)
	}
	g := grants(t, s, u.ID)
	wantStrings(t, "roles", g.Roles, []string{})
}

func testCreateUserLinksRoles(t *testing.T, s Store) {
	applySeed(t, s, authz.Seed{Roles: []authz.SeedRole{{Name: "Viewer"}}})
	u := createUser(t, s, "alice", authz.AdminRole, "Viewer")
	wantStrings(t, "roles", grants(t, s, u.ID).Roles, []string{"Viewer", authz.AdminRole})
}

func testUsersOrder(t *testing.T, s Store) {
	users, err := s.Users(t.Context())
	if err != nil || len(users) != 0 {
		t.Fatalf("Users() on an empty store = %v, %v; want none, nil", usernames(users), err)
	}
	for _, name := range []string{"carol", "bob_smith", "Bob", "alice", "Dave", "Bob.Smith"} {
		createUser(t, s, name)
	}
	if users, err = s.Users(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantStrings(t, "usernames", usernames(users), []string{"alice", "Bob", "Bob.Smith", "bob_smith", "carol", "Dave"})
}

func testSetUserState(t *testing.T, s Store) {
	u := createUser(t, s, "alice")
	ev := userEvent(audit.UserDisabled, u.ID)
	changed, err := s.SetUserState(t.Context(), u.ID, identity.StateDisabled, at(5), ev)
	if err != nil || !changed {
		t.Fatalf("SetUserState(disabled) = %v, %v; want true, nil", changed, err)
	}
	changed, err = s.SetUserState(t.Context(), u.ID, identity.StateDisabled, at(6), ev)
	if err != nil || changed {
		t.Fatalf("SetUserState(disabled) again = %v, %v; want false, nil", changed, err)
	}
	got := userByID(t, s, u.ID)
	if got.State != identity.StateDisabled || !got.UpdatedAt.Equal(at(5)) {
		t.Errorf("after disabling: state %q, updated %v; want disabled, %v", got.State, got.UpdatedAt, at(5))
	}
	if n := countEvents(t, s, audit.UserDisabled); n != 1 {
		t.Errorf("%d %s events, want 1: a call that changes nothing records nothing", n, audit.UserDisabled)
	}
}

func testUserUpdatesMissingUser(t *testing.T, s Store) {
	id := uuid.New()
	for name, update := range map[string]func() error{
		"SetUserState": func() error {
			_, err := s.SetUserState(t.Context(), id, identity.StateDisabled, at(1), userEvent(audit.UserDisabled, id))
			return err
		},
		"SetPasswordHash": func() error {
			return s.SetPasswordHash(t.Context(), id, "$argon2id$x", at(1), userEvent(audit.UserPasswordSet, id))
		},
		"RecordLogin": func() error {
			return s.RecordLogin(t.Context(), id, at(1), userEvent(audit.LoginSucceeded, id))
		},
	} {
		if err := update(); !errors.Is(err, identity.ErrUserNotFound) {
			t.Errorf("%s of a missing user = %v, want ErrUserNotFound", name, err)
		}
	}
	if n := countEvents(t, s, ""); n != 0 {
		t.Errorf("%d audit events after updates of a missing user, want 0", n)
	}
}

func testSetPasswordHash(t *testing.T, s Store) {
	u := createUser(t, s, "alice")
	const hash = "$argon2id$v=19$m=65536,t=3,p=2$bmV3c2FsdA$bmV3aGFzaA"
	if err := s.SetPasswordHash(t.Context(), u.ID, hash, at(7), userEvent(audit.UserPasswordSet, u.ID)); err != nil {
		t.Fatalf("SetPasswordHash: %v", err)
	}
	u.PasswordHash, u.UpdatedAt = hash, at(7)
	wantUser(t, userByID(t, s, u.ID), u)
	if n := countEvents(t, s, audit.UserPasswordSet); n != 1 {
		t.Errorf("%d %s events, want 1", n, audit.UserPasswordSet)
	}
}

func testRecordLogin(t *testing.T, s Store) {
	u := createUser(t, s, "alice")
	for _, when := range []time.Time{at(3), at(4)} {
		if err := s.RecordLogin(t.Context(), u.ID, when, userEvent(audit.LoginSucceeded, u.ID)); err != nil {
			t.Fatalf("RecordLogin: %v", err)
		}
		got := userByID(t, s, u.ID)
		if got.LastLoginAt == nil || !got.LastLoginAt.Equal(when) {
			t.Errorf("LastLoginAt = %v, want %v", got.LastLoginAt, when)
		}
	}
	if n := countEvents(t, s, audit.LoginSucceeded); n != 2 {
		t.Errorf("%d %s events, want 2", n, audit.LoginSucceeded)
	}
}

func testAuditEvents(t *testing.T, s Store) {
	appended := []audit.Event{
		{At: at(1), Actor: "anonymous", Action: audit.LoginFailed, Target: "", IP: "198.51.100.1",
			Details: map[string]any{"username": "mallory", "reason": "unknown_user"}},
		{At: at(2), Actor: audit.CLI, Action: audit.UserCreated, Target: "user:1",
			Details: map[string]any{"username": "alice", "roles": []any{"Admin", "Viewer"}, "attempt": 2.0, "ok": true}},
		{At: at(3), Actor: "anonymous", Action: audit.LoginFailed, IP: "2001:db8::1"},
	}
	for _, ev := range appended {
		if err := s.AppendAudit(t.Context(), ev); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}

	all := events(t, s, "")
	if len(all) != 3 {
		t.Fatalf("AuditEvents(all) returned %d events, want 3", len(all))
	}
	for i, got := range all {
		wantEvent(t, got, appended[len(appended)-1-i])
		if i > 0 && got.ID >= all[i-1].ID {
			t.Errorf("event ids %d then %d: want newest (highest id) first", all[i-1].ID, got.ID)
		}
	}

	failed := events(t, s, audit.LoginFailed)
	if len(failed) != 2 || failed[0].ID != all[0].ID || failed[1].ID != all[2].ID {
		t.Errorf("AuditEvents(%s) = %v, want ids %d, %d", audit.LoginFailed, ids(failed), all[0].ID, all[2].ID)
	}
	limited, err := s.AuditEvents(t.Context(), "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(limited) != 2 || limited[0].ID != all[0].ID || limited[1].ID != all[1].ID {
		t.Errorf("AuditEvents(limit 2) = %v, want the newest two %v", ids(limited), ids(all[:2]))
	}
}

// --- roles and permissions -----------------------------------------------

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
		changed, err := s.GrantPermission(t.Context(), "Clerk", "shop.write", ev)
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
	if _, err := s.GrantPermission(t.Context(), "Clerk", "shop.delete", ev); !errors.Is(err, authz.ErrPermissionNotFound) {
		t.Errorf("GrantPermission(unknown permission) = %v, want ErrPermissionNotFound", err)
	}
	if _, err := s.GrantPermission(t.Context(), "Cashier", "shop.read", ev); !errors.Is(err, authz.ErrRoleNotFound) {
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
		changed, err := s.RevokePermission(t.Context(), "Clerk", "shop.read", ev)
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
	if _, err := s.RevokePermission(t.Context(), "Clerk", "shop.delete", ev); !errors.Is(err, authz.ErrPermissionNotFound) {
		t.Errorf("RevokePermission(unknown permission) = %v, want ErrPermissionNotFound", err)
	}
	if _, err := s.RevokePermission(t.Context(), "Cashier", "shop.read", ev); !errors.Is(err, authz.ErrRoleNotFound) {
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
		{"add", func() (bool, error) { return s.AddUserRole(t.Context(), u.ID, "Clerk", add) }, true},
		{"add again", func() (bool, error) { return s.AddUserRole(t.Context(), u.ID, "Clerk", add) }, false},
		{"remove", func() (bool, error) { return s.RemoveUserRole(t.Context(), u.ID, "Clerk", remove) }, true},
		{"remove again", func() (bool, error) { return s.RemoveUserRole(t.Context(), u.ID, "Clerk", remove) }, false},
		{"add back", func() (bool, error) { return s.AddUserRole(t.Context(), u.ID, "Clerk", add) }, true},
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
	if _, err := s.AddUserRole(t.Context(), u.ID, "Cashier", userEvent(audit.UserRoleAdded, u.ID)); !errors.Is(err, authz.ErrRoleNotFound) {
		t.Errorf("AddUserRole(unknown role) = %v, want ErrRoleNotFound", err)
	}
	ghost := uuid.New()
	if _, err := s.AddUserRole(t.Context(), ghost, authz.AdminRole, userEvent(audit.UserRoleAdded, ghost)); !errors.Is(err, identity.ErrUserNotFound) {
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

// --- seeds ---------------------------------------------------------------

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

// --- signing keys --------------------------------------------------------

// fakeKey stands in for a generated key: stores keep the PEM as bytes and
// never parse it, and generating real RSA keys would dominate the suite.
func fakeKey(n int32) tokens.StoredKey {
	return tokens.StoredKey{
		ID:          fmt.Sprintf("test-kid-%d", n),
		PrivatePEM:  pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: fmt.Appendf(nil, "stand-in key %d", n)}),
		CreatedAt:   at(int(n)),
		ActivatesAt: at(int(n)),
	}
}

// countingGenerate returns distinct fake keys, so that two generations
// would show as two different kids.
func countingGenerate(calls *atomic.Int32) func() (tokens.StoredKey, error) {
	return func() (tokens.StoredKey, error) { return fakeKey(calls.Add(1)), nil }
}

func testSigningKeyOnce(t *testing.T, s Store) {
	var calls atomic.Int32
	gen := countingGenerate(&calls)
	want := fakeKey(1)
	for i := range 3 {
		got, err := s.EnsureSigningKey(t.Context(), gen)
		if err != nil {
			t.Fatalf("EnsureSigningKey call %d: %v", i+1, err)
		}
		if got.ID != want.ID || string(got.PrivatePEM) != string(want.PrivatePEM) || !got.CreatedAt.Equal(want.CreatedAt) {
			t.Fatalf("EnsureSigningKey call %d = %s created %v, want %s created %v", i+1, got.ID, got.CreatedAt, want.ID, want.CreatedAt)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("generate called %d times, want 1", n)
	}
	if n := countEvents(t, s, audit.SigningKeyCreated); n != 1 {
		t.Errorf("%d %s events, want 1", n, audit.SigningKeyCreated)
	}
}

func testSigningKeyConcurrent(t *testing.T, s Store) {
	const callers = 4
	var calls atomic.Int32
	var entered sync.WaitGroup
	entered.Add(callers)
	// Generating only once every caller has entered EnsureSigningKey keeps
	// the first caller's window open while the others arrive, so a store
	// that does not serialise generation shows it. A correct store cannot
	// deadlock here: callers enter before they wait on one another.
	gen := func() (tokens.StoredKey, error) {
		entered.Wait()
		return fakeKey(calls.Add(1)), nil
	}
	kids := make([]string, callers)
	errs := make([]error, callers)
	var ready, wg sync.WaitGroup
	ready.Add(callers)
	for i := range callers {
		wg.Go(func() {
			// A read first, side by side, so that a store with a
			// connection pool has connections ready for every caller.
			if _, err := s.Roles(t.Context()); err != nil {
				t.Error(err)
			}
			ready.Done()
			ready.Wait()
			entered.Done()
			k, err := s.EnsureSigningKey(t.Context(), gen)
			kids[i], errs[i] = k.ID, err
		})
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Errorf("caller %d: %v", i, errs[i])
		} else if kids[i] != kids[0] {
			t.Errorf("callers got kids %q, want one kid for all", kids)
			break
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("generate called %d times, want 1", n)
	}
}

func testSigningKeyGenerateError(t *testing.T, s Store) {
	boom := errors.New("entropy ran out")
	_, err := s.EnsureSigningKey(t.Context(), func() (tokens.StoredKey, error) { return tokens.StoredKey{}, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("EnsureSigningKey with failing generate = %v, want %v", err, boom)
	}
	var calls atomic.Int32
	got, err := s.EnsureSigningKey(t.Context(), countingGenerate(&calls))
	if err != nil || got.ID != fakeKey(1).ID || calls.Load() != 1 {
		t.Errorf("EnsureSigningKey after a failed generate = %s, %v with %d calls; want a fresh key", got.ID, err, calls.Load())
	}
}

// --- helpers -------------------------------------------------------------

// at returns the n-th minute of the suite's clock, at microsecond precision
// as every store keeps it.
func at(n int) time.Time {
	return time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC).Add(time.Duration(n) * time.Minute)
}

func newUser(display string) identity.User {
	return identity.User{ID: uuid.New(), Username: display, State: identity.StateActive, CreatedAt: at(0), UpdatedAt: at(0)}
}

func createUser(t *testing.T, s Store, username string, roles ...string) identity.User {
	t.Helper()
	display, _ := identity.NormalizeUsername(username)
	u := newUser(display)
	if err := s.CreateUser(t.Context(), u, roles, userEvent(audit.UserCreated, u.ID)); err != nil {
		t.Fatalf("CreateUser(%q, %q): %v", username, roles, err)
	}
	return u
}

func userByID(t *testing.T, s Store, id uuid.UUID) identity.User {
	t.Helper()
	u, err := s.UserByID(t.Context(), id)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	return u
}

func userEvent(action string, id uuid.UUID) audit.Event {
	return audit.Event{At: at(1), Actor: audit.CLI, Action: action, Target: identity.Target(id)}
}

func roleEvent(action, role string) audit.Event {
	return audit.Event{At: at(1), Actor: audit.CLI, Action: action, Target: "role:" + role}
}

func role(t *testing.T, s Store, name string) authz.Role {
	t.Helper()
	r, err := s.Role(t.Context(), name)
	if err != nil {
		t.Fatalf("Role(%q): %v", name, err)
	}
	return r
}

func grants(t *testing.T, s Store, user uuid.UUID) authz.Grants {
	t.Helper()
	g, err := s.UserGrants(t.Context(), user)
	if err != nil {
		t.Fatalf("UserGrants: %v", err)
	}
	return g
}

func applySeed(t *testing.T, s Store, seed authz.Seed) authz.SeedReport {
	t.Helper()
	r, err := authz.ApplySeed(t.Context(), s, seed, "seeder", at(1), false)
	if err != nil {
		t.Fatalf("ApplySeed: %v", err)
	}
	return r
}

func events(t *testing.T, s Store, action string) []audit.Stored {
	t.Helper()
	evs, err := s.AuditEvents(t.Context(), action, 10000)
	if err != nil {
		t.Fatalf("AuditEvents(%q): %v", action, err)
	}
	return evs
}

func countEvents(t *testing.T, s Store, action string) int {
	t.Helper()
	return len(events(t, s, action))
}

func wantUser(t *testing.T, got, want identity.User) {
	t.Helper()
	sameLogin := (got.LastLoginAt == nil) == (want.LastLoginAt == nil) &&
		(got.LastLoginAt == nil || got.LastLoginAt.Equal(*want.LastLoginAt))
	if got.ID != want.ID || got.Username != want.Username || got.PasswordHash != want.PasswordHash ||
		got.State != want.State || !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) || !sameLogin {
		t.Errorf("user\n got %+v\nwant %+v", got, want)
	}
}

func wantEvent(t *testing.T, got audit.Stored, want audit.Event) {
	t.Helper()
	if len(want.Details) == 0 && len(got.Details) == 0 {
		want.Details = got.Details
	}
	if !got.At.Equal(want.At) || got.Actor != want.Actor || got.Action != want.Action || got.Target != want.Target ||
		got.IP != want.IP || !reflect.DeepEqual(got.Details, want.Details) {
		t.Errorf("audit event\n got %+v\nwant %+v", got.Event, want)
	}
}

func wantStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func usernames(users []identity.User) []string {
	var names []string
	for _, u := range users {
		names = append(names, u.Username)
	}
	return names
}

func ids(evs []audit.Stored) []int64 {
	var out []int64
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}
