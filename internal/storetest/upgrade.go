package storetest

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/identity"
)

// A legacy hash is replaced at the login that proved the password, in the
// transaction that records the login, and only if nothing replaced it since.

func testLoginUpgradesHash(t *testing.T, s Store) {
	u := newUser("alice")
	u.PasswordHash = legacyHash
	if err := identity.CreateUser(t.Context(), s, u, nil, userEvent(audit.UserCreated, u.ID)); err != nil {
		t.Fatal(err)
	}
	version := bundleVersion(t, s)
	login, upgraded := upgradeEvents(u.ID)
	replaced, err := identity.RecordLoginUpgradingHash(t.Context(), s, u.ID, at(3), legacyHash, argonHash, login, upgraded)
	if err != nil || !replaced {
		t.Fatalf("RecordLoginUpgradingHash = %v, %v; want true, nil", replaced, err)
	}
	lastLogin := at(3)
	u.PasswordHash, u.UpdatedAt, u.LastLoginAt = argonHash, at(3), &lastLogin
	wantUser(t, userByID(t, s, u.ID), u)
	for _, want := range []audit.Event{login, upgraded} {
		evs := events(t, s, want.Action)
		if len(evs) != 1 {
			t.Fatalf("%d %s events, want 1", len(evs), want.Action)
		}
		wantEvent(t, evs[0], want)
	}
	if v := bundleVersion(t, s); v != version {
		t.Errorf("bundle version %d → %d: a password upgrade changes nothing the bundle holds", version, v)
	}
}

func testLoginUpgradeLosesToAChangedHash(t *testing.T, s Store) {
	u := newUser("alice")
	u.PasswordHash = legacyHash
	if err := identity.CreateUser(t.Context(), s, u, nil, userEvent(audit.UserCreated, u.ID)); err != nil {
		t.Fatal(err)
	}
	// Another login upgraded it (or an admin set a password) meanwhile.
	if err := identity.SetPasswordHash(t.Context(), s, u.ID, argonHash, at(2), userEvent(audit.UserPasswordSet, u.ID)); err != nil {
		t.Fatal(err)
	}
	login, upgraded := upgradeEvents(u.ID)
	replaced, err := identity.RecordLoginUpgradingHash(t.Context(), s, u.ID, at(3), legacyHash, "$argon2id$v=19$m=8,t=1,p=1$b3RoZXI$b3RoZXJoYXNoaGFzaGhhc2g", login, upgraded)
	if err != nil || replaced {
		t.Fatalf("RecordLoginUpgradingHash over a changed hash = %v, %v; want false, nil", replaced, err)
	}
	got := userByID(t, s, u.ID)
	if got.PasswordHash != argonHash || !got.UpdatedAt.Equal(at(2)) {
		t.Errorf("hash %q updated %v; want the meanwhile hash kept, updated %v", got.PasswordHash, got.UpdatedAt, at(2))
	}
	if got.LastLoginAt == nil || !got.LastLoginAt.Equal(at(3)) {
		t.Errorf("LastLoginAt = %v, want the login recorded at %v", got.LastLoginAt, at(3))
	}
	if n := countEvents(t, s, audit.LoginSucceeded); n != 1 {
		t.Errorf("%d %s events, want 1", n, audit.LoginSucceeded)
	}
	if n := countEvents(t, s, audit.UserPasswordUpgraded); n != 0 {
		t.Errorf("%d %s events, want 0: nothing was upgraded", n, audit.UserPasswordUpgraded)
	}
}

func testLoginUpgradeMissingUser(t *testing.T, s Store) {
	id := uuid.New()
	login, upgraded := upgradeEvents(id)
	_, err := identity.RecordLoginUpgradingHash(t.Context(), s, id, at(3), legacyHash, argonHash, login, upgraded)
	if !errors.Is(err, identity.ErrUserNotFound) {
		t.Errorf("RecordLoginUpgradingHash of a missing user = %v, want ErrUserNotFound", err)
	}
	if n := countEvents(t, s, ""); n != 0 {
		t.Errorf("%d audit events, want 0", n)
	}
}

func upgradeEvents(id uuid.UUID) (login, upgraded audit.Event) {
	login = audit.Event{At: at(3), Actor: identity.Target(id), Action: audit.LoginSucceeded, Target: identity.Target(id),
		IP: "192.0.2.1", Details: map[string]any{"username": "alice"}}
	upgraded = audit.Event{At: at(3), Actor: identity.Target(id), Action: audit.UserPasswordUpgraded, Target: identity.Target(id),
		IP: "192.0.2.1", Details: map[string]any{"username": "alice", "from": "pbkdf2_sha256", "to": "argon2id"}}
	return login, upgraded
}
