package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
)

// Users: created with their roles or not at all, found by a username key
// that ignores case and width, changed and logged in with each change
// audited once. The fixtures every contract
// uses to make users are here too.

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
	if err := identity.CreateUser(t.Context(), s, u, nil, ev); err != nil {
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
		err := identity.CreateUser(t.Context(), s, u, nil, userEvent(audit.UserCreated, u.ID))
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
	err := identity.CreateUser(t.Context(), s, u, []string{authz.AdminRole, "no-such-role"}, userEvent(audit.UserCreated, u.ID))
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
	if err := identity.CreateUser(t.Context(), s, u, nil, userEvent(audit.UserCreated, u.ID)); err != nil {
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
	changed, err := identity.SetUserState(t.Context(), s, u.ID, identity.StateDisabled, at(5), ev)
	if err != nil || !changed {
		t.Fatalf("SetUserState(disabled) = %v, %v; want true, nil", changed, err)
	}
	changed, err = identity.SetUserState(t.Context(), s, u.ID, identity.StateDisabled, at(6), ev)
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
			_, err := identity.SetUserState(t.Context(), s, id, identity.StateDisabled, at(1), userEvent(audit.UserDisabled, id))
			return err
		},
		"SetPasswordHash": func() error {
			return identity.SetPasswordHash(t.Context(), s, id, "$argon2id$x", at(1), userEvent(audit.UserPasswordSet, id))
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
	if err := identity.SetPasswordHash(t.Context(), s, u.ID, hash, at(7), userEvent(audit.UserPasswordSet, u.ID)); err != nil {
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

func newUser(display string) identity.User {
	return identity.User{ID: uuid.New(), Username: display, State: identity.StateActive, CreatedAt: at(0), UpdatedAt: at(0)}
}

func createUser(t *testing.T, s Store, username string, roles ...string) identity.User {
	t.Helper()
	display, _ := identity.NormalizeUsername(username)
	u := newUser(display)
	if err := identity.CreateUser(t.Context(), s, u, roles, userEvent(audit.UserCreated, u.ID)); err != nil {
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

func wantUser(t *testing.T, got, want identity.User) {
	t.Helper()
	sameLogin := (got.LastLoginAt == nil) == (want.LastLoginAt == nil) &&
		(got.LastLoginAt == nil || got.LastLoginAt.Equal(*want.LastLoginAt))
	if got.ID != want.ID || got.Username != want.Username || got.PasswordHash != want.PasswordHash ||
		got.State != want.State || !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) || !sameLogin {
		t.Errorf("user\n got %+v\nwant %+v", got, want)
	}
}

func usernames(users []identity.User) []string {
	var names []string
	for _, u := range users {
		names = append(names, u.Username)
	}
	return names
}
