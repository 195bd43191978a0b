package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
)

// Imports carry users' password hashes and account states in the seed.
// They must not undo what happened here since: a hash upgraded to argon2id
// at a login is newer than any hash in an export.

const (
	// Django pbkdf2_sha256 hashes of "lètmein" from Django's own tests
	// (tests/auth_tests/test_hashers.py, Django 4.1), as an import carries
	// them; stores keep them as opaque strings.
	legacyHash  = "pbkdf2_sha256$390000$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c="
	legacyHash2 = "pbkdf2_sha256$390000$seasalt2$geC/uZ92nRXDSjSxeoiBqYyRcrLzMm8xK3ro1QS1uo8="
	argonHash   = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g"
)

func testSeedCreatesUsersWithHashAndState(t *testing.T, s Store) {
	seedShop(t, s)
	before := countEvents(t, s, audit.UserCreated)
	report := applySeed(t, s, authz.Seed{Users: []authz.SeedUser{
		{Username: "erin", Roles: []string{"Clerk"}, PasswordHash: legacyHash},
		{Username: "frank", PasswordHash: legacyHash2, State: "disabled"},
		{Username: "grace", State: "active"},
	}})
	want := map[string]struct {
		hash  string
		state identity.State
	}{
		"erin":  {legacyHash, identity.StateActive},
		"frank": {legacyHash2, identity.StateDisabled},
		"grace": {"", identity.StateActive},
	}
	for name, w := range want {
		u := userByName(t, s, name)
		if u.PasswordHash != w.hash || u.State != w.state || !u.CreatedAt.Equal(at(1)) {
			t.Errorf("seeded %s: hash %q state %q created %v; want %q %q %v", name, u.PasswordHash, u.State, u.CreatedAt, w.hash, w.state, at(1))
		}
	}
	wantStrings(t, "erin's roles", grants(t, s, userByName(t, s, "erin").ID).Roles, []string{"Clerk"})
	if len(report.Changes) != 4 {
		t.Errorf("changes %q, want 4: three users, one user role", report.Changes)
	}
	if n := countEvents(t, s, audit.UserCreated) - before; n != 3 {
		t.Errorf("%d new %s events, want 3", n, audit.UserCreated)
	}
	if n := countEvents(t, s, audit.UserDisabled) + countEvents(t, s, audit.UserPasswordSet); n != 0 {
		t.Errorf("%d disable or password events for new users, want 0: creating them records it", n)
	}
	wantNoSecretsAudited(t, s)
}

func testSeedSyncsUserState(t *testing.T, s Store) {
	seedShop(t, s)
	alice := createUser(t, s, "alice", "Clerk")
	step := func(n int, state string, wantState identity.State, wantChanges int) {
		t.Helper()
		r, err := authz.ApplySeed(t.Context(), s, authz.Seed{Users: []authz.SeedUser{
			{Username: "ALICE", Roles: []string{"Clerk"}, State: state},
		}}, "seeder", at(n), false)
		if err != nil {
			t.Fatalf("ApplySeed(state %q): %v", state, err)
		}
		if len(r.Changes) != wantChanges {
			t.Errorf("ApplySeed(state %q) changes %q, want %d", state, r.Changes, wantChanges)
		}
		if got := userByID(t, s, alice.ID).State; got != wantState {
			t.Errorf("after ApplySeed(state %q): state %q, want %q", state, got, wantState)
		}
	}
	step(2, "", identity.StateActive, 0)
	step(3, "active", identity.StateActive, 0)
	wantNotRevoked(t, s, alice.ID)

	step(4, "disabled", identity.StateDisabled, 1)
	wantRevoked(t, s, alice.ID, at(4))
	if got := userByID(t, s, alice.ID); !got.UpdatedAt.Equal(at(4)) {
		t.Errorf("disabled at %v, updated_at %v", at(4), got.UpdatedAt)
	}
	step(5, "disabled", identity.StateDisabled, 0)
	step(6, "", identity.StateDisabled, 0)
	step(7, "active", identity.StateActive, 1)
	wantRevoked(t, s, alice.ID, at(4)) // enabling voids nothing

	for action, want := range map[string]audit.Event{
		audit.UserDisabled: {At: at(4), Actor: "seeder", Action: audit.UserDisabled, Target: identity.Target(alice.ID),
			Details: map[string]any{"username": "alice", "previous_state": "active", "state": "disabled"}},
		audit.UserEnabled: {At: at(7), Actor: "seeder", Action: audit.UserEnabled, Target: identity.Target(alice.ID),
			Details: map[string]any{"username": "alice", "previous_state": "disabled", "state": "active"}},
	} {
		evs := events(t, s, action)
		if len(evs) != 1 {
			t.Errorf("%d %s events, want 1", len(evs), action)
			continue
		}
		wantEvent(t, evs[0], want)
	}
}

func testSeedSetsPasswordHashOnlyOverEmptyOrLegacy(t *testing.T, s Store) {
	users := map[string]string{ // username → stored hash before the import
		"nopass":   "",
		"legacy":   legacyHash2,
		"same":     legacyHash,
		"upgraded": argonHash,
		"untold":   legacyHash2,
	}
	ids := map[string]uuid.UUID{}
	for name, hash := range users {
		u := newUser(name)
		u.PasswordHash = hash
		if err := identity.CreateUser(t.Context(), s, u, nil, userEvent(audit.UserCreated, u.ID)); err != nil {
			t.Fatal(err)
		}
		ids[name] = u.ID
	}
	seed := authz.Seed{Users: []authz.SeedUser{
		{Username: "nopass", PasswordHash: legacyHash},
		{Username: "legacy", PasswordHash: legacyHash},
		{Username: "same", PasswordHash: legacyHash},
		{Username: "upgraded", PasswordHash: legacyHash},
		{Username: "untold"}, // no hash in the import: keep what is stored
	}}
	report := applySeed(t, s, seed)
	want := map[string]string{
		"nopass": legacyHash, "legacy": legacyHash, "same": legacyHash, "upgraded": argonHash, "untold": legacyHash2,
	}
	for name, hash := range want {
		got := userByID(t, s, ids[name])
		if got.PasswordHash != hash {
			t.Errorf("%s: hash %q after import, want %q", name, got.PasswordHash, hash)
		}
		changed := name == "nopass" || name == "legacy"
		if got.UpdatedAt.Equal(at(1)) != changed {
			t.Errorf("%s: updated_at %v, want changed=%v", name, got.UpdatedAt, changed)
		}
	}
	if len(report.Changes) != 2 {
		t.Errorf("changes %q, want 2: nopass and legacy get the imported hash", report.Changes)
	}
	evs := events(t, s, audit.UserPasswordSet)
	var targets []string
	for _, e := range evs {
		targets = append(targets, e.Target)
		if e.Actor != "seeder" || !e.At.Equal(at(1)) {
			t.Errorf("%s event %+v, want by seeder at %v", audit.UserPasswordSet, e.Event, at(1))
		}
	}
	slices.Sort(targets)
	wantTargets := []string{identity.Target(ids["legacy"]), identity.Target(ids["nopass"])}
	slices.Sort(wantTargets)
	wantStrings(t, audit.UserPasswordSet+" targets", targets, wantTargets)
	wantNoSecretsAudited(t, s)

	if again := applySeed(t, s, seed); len(again.Changes) != 0 {
		t.Errorf("second import changes %q, want none", again.Changes)
	}
}

func testSeedDryRun(t *testing.T, s Store) {
	seedShop(t, s)
	carol := userByName(t, s, "carol")
	eventsBefore, versionBefore := countEvents(t, s, ""), bundleVersion(t, s)
	seed := authz.Seed{
		Permissions: []authz.SeedPermission{{Code: "depot.read"}},
		Roles:       []authz.SeedRole{{Name: "Porter", Permissions: []string{"depot.read"}}},
		Users: []authz.SeedUser{
			{Username: "carol", Roles: []string{"Clerk"}, PasswordHash: legacyHash, State: "disabled"},
			{Username: "dave", Roles: []string{"Porter"}, PasswordHash: legacyHash},
		},
	}
	dry, err := authz.ApplySeed(t.Context(), s, seed, "seeder", at(2), true)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	wantNothingApplied(t, s, eventsBefore)
	if got := userByID(t, s, carol.ID); got.State != identity.StateActive || got.PasswordHash != "" {
		t.Errorf("carol after a dry run: state %q, hash %q; want active, none", got.State, got.PasswordHash)
	}
	wantNotRevoked(t, s, carol.ID)
	if v := bundleVersion(t, s); v != versionBefore {
		t.Errorf("bundle version %d → %d after a dry run, want unchanged", versionBefore, v)
	}

	real, err := authz.ApplySeed(t.Context(), s, seed, "seeder", at(2), false)
	if err != nil {
		t.Fatalf("apply after the dry run: %v", err)
	}
	// permission, role, grant, carol's role added and removed, state and
	// hash, dave and his role.
	if len(real.Changes) != 9 || !slices.Equal(dry.Changes, real.Changes) {
		t.Errorf("dry run reported\n%s\napplying reported\n%s\nwant the same 9 changes",
			strings.Join(dry.Changes, "\n"), strings.Join(real.Changes, "\n"))
	}

	// A dry run of a broken seed fails as applying it would.
	_, err = authz.ApplySeed(t.Context(), s, authz.Seed{Users: []authz.SeedUser{{Username: "erin", Roles: []string{"Janitor"}}}}, "seeder", at(3), true)
	if !errors.Is(err, authz.ErrRoleNotFound) {
		t.Errorf("dry run with an unknown role = %v, want ErrRoleNotFound", err)
	}
}

func userByName(t *testing.T, s Store, username string) identity.User {
	t.Helper()
	_, key := identity.NormalizeUsername(username)
	u, err := s.UserByUsernameKey(t.Context(), key)
	if err != nil {
		t.Fatalf("UserByUsernameKey(%q): %v", username, err)
	}
	return u
}

// wantNoSecretsAudited checks that no audit event carries a password hash.
func wantNoSecretsAudited(t *testing.T, s Store) {
	t.Helper()
	for _, e := range events(t, s, "") {
		for k, v := range e.Details {
			str, _ := v.(string)
			if strings.Contains(str, "pbkdf2") || strings.Contains(str, "argon2") || strings.Contains(str, "seasalt") {
				t.Errorf("%s event detail %s = %q: hashes must not be audited", e.Action, k, str)
			}
		}
	}
}
