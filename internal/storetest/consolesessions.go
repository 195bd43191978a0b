package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/consolesession"
	"github.com/gaia-platform/iam/internal/identity"
)

var consoleSessionContract = []contractTest{
	{"ConsoleSession_ResumeFindsTheStartedSession", testConsoleSessionResume},
	{"ConsoleSession_StoredUnderTheHashNotTheToken", testConsoleSessionHashed},
	{"ConsoleSession_IdleTooLongEndsAndIsDeleted", testConsoleSessionIdle},
	{"ConsoleSession_EndsAtItsLifetimeHoweverActive", testConsoleSessionLifetime},
	{"ConsoleSession_UseMovesLastSeenPastTheIdleTimeout", testConsoleSessionTouch},
	{"ConsoleSession_EndEndsIt", testConsoleSessionEnd},
	{"ConsoleSession_SessionsOfOneUserAreIndependent", testConsoleSessionsIndependent},
	{"ConsoleSession_LeavingActiveEndsTheUsersSessions", testConsoleSessionsEndOnDisable},
	{"ConsoleSession_NewPasswordEndsTheUsersSessions", testConsoleSessionsEndOnPassword},
	{"ConsoleSession_StartDeletesStaleSessionsOfEveryone", testConsoleSessionStartDeletesStale},
	{"ConsoleSession_ASeedDisablingOrSettingAPasswordEndsThem", testConsoleSessionsEndBySeed},
}

// consolePolicy is short enough that a session can be kept busy to its
// end a minute at a time.
var consolePolicy = consolesession.Policy{IdleTimeout: 10 * time.Minute, Lifetime: time.Hour}

// consoleClock is a console session service on s whose clock the test
// sets.
type consoleClock struct {
	*consolesession.Service
	now time.Time
}

func newConsoleClock(s Store) *consoleClock {
	c := &consoleClock{now: at(0)}
	c.Service = consolesession.NewService(s, consolePolicy, func() time.Time { return c.now })
	return c
}

func (c *consoleClock) start(t *testing.T, user uuid.UUID, ip string) string {
	t.Helper()
	token, _, err := c.Start(t.Context(), user, ip)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return token
}

// resumeAt resumes the session of token at when.
func (c *consoleClock) resumeAt(t *testing.T, token string, when time.Time) (consolesession.Session, error) {
	t.Helper()
	c.now = when
	return c.Resume(t.Context(), token)
}

func (c *consoleClock) wantSignedIn(t *testing.T, what, token string, when time.Time) consolesession.Session {
	t.Helper()
	sess, err := c.resumeAt(t, token, when)
	if err != nil {
		t.Fatalf("%s: Resume at %v: %v, want signed in", what, when, err)
	}
	return sess
}

func (c *consoleClock) wantSignedOut(t *testing.T, what, token string, when time.Time) {
	t.Helper()
	if sess, err := c.resumeAt(t, token, when); !errors.Is(err, consolesession.ErrNoSession) {
		t.Errorf("%s: Resume at %v = %+v, %v, want ErrNoSession", what, when, sess, err)
	}
}

// wantNoRow checks that no session is stored for token.
func wantNoRow(t *testing.T, s Store, what, token string) {
	t.Helper()
	if sess, err := s.ConsoleSession(t.Context(), consolesession.Hash(token)); !errors.Is(err, consolesession.ErrNoSession) {
		t.Errorf("%s: stored %+v, %v, want ErrNoSession", what, sess, err)
	}
}

func wantConsoleSession(t *testing.T, got, want consolesession.Session) {
	t.Helper()
	if got.UserID != want.UserID || !got.CreatedAt.Equal(want.CreatedAt) || !got.LastSeenAt.Equal(want.LastSeenAt) ||
		!got.ExpiresAt.Equal(want.ExpiresAt) || got.IP != want.IP {
		t.Errorf("console session\n got %+v\nwant %+v", got, want)
	}
}

func testConsoleSessionResume(t *testing.T, s Store) {
	alice := createUser(t, s, "alice")
	c := newConsoleClock(s)
	token, started, err := c.Start(t.Context(), alice.ID, "192.0.2.1")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	want := consolesession.Session{UserID: alice.ID, CreatedAt: at(0), LastSeenAt: at(0),
		ExpiresAt: at(0).Add(consolePolicy.Lifetime), IP: "192.0.2.1"}
	wantConsoleSession(t, started, want)
	wantConsoleSession(t, c.wantSignedIn(t, "new session", token, at(0)), want)
	stored, err := s.ConsoleSession(t.Context(), consolesession.Hash(token))
	if err != nil {
		t.Fatalf("ConsoleSession: %v", err)
	}
	wantConsoleSession(t, stored, want)
	c.wantSignedOut(t, "empty token", "", at(0))
}

// The table's key is the hash: the token itself finds nothing, nor does
// another token. (The suite reaches the store through its ports only, so
// it cannot grep the table for the token; no column but the key holds
// text derived from it.)
func testConsoleSessionHashed(t *testing.T, s Store) {
	alice := createUser(t, s, "alice")
	c := newConsoleClock(s)
	token := c.start(t, alice.ID, "192.0.2.1")
	if consolesession.Hash(token) == token {
		t.Fatal("Hash(token) is the token")
	}
	if sess, err := s.ConsoleSession(t.Context(), token); !errors.Is(err, consolesession.ErrNoSession) {
		t.Errorf("ConsoleSession(raw token) = %+v, %v, want ErrNoSession", sess, err)
	}
	c.wantSignedOut(t, "a token never issued", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", at(0))
	c.wantSignedOut(t, "the token's hash as a token", consolesession.Hash(token), at(0))
	c.wantSignedIn(t, "the token", token, at(0))
}

func testConsoleSessionIdle(t *testing.T, s Store) {
	alice := createUser(t, s, "alice")
	c := newConsoleClock(s)
	token := c.start(t, alice.ID, "192.0.2.1")
	c.wantSignedOut(t, "idle for the timeout", token, at(0).Add(consolePolicy.IdleTimeout))
	wantNoRow(t, s, "idle session", token)
	c.wantSignedOut(t, "at an earlier clock after the idle Resume", token, at(1))
}

func testConsoleSessionLifetime(t *testing.T, s Store) {
	alice := createUser(t, s, "alice")
	c := newConsoleClock(s)
	token := c.start(t, alice.ID, "192.0.2.1")
	end := at(0).Add(consolePolicy.Lifetime)
	m := 1
	for ; at(m).Before(end); m++ {
		c.wantSignedIn(t, "busy session", token, at(m))
	}
	c.wantSignedOut(t, "busy session at its lifetime", token, at(m))
	wantNoRow(t, s, "session past its lifetime", token)
}

func testConsoleSessionTouch(t *testing.T, s Store) {
	alice := createUser(t, s, "alice")
	c := newConsoleClock(s)
	token := c.start(t, alice.ID, "192.0.2.1")
	used := at(0).Add(consolePolicy.IdleTimeout - time.Minute)
	if got := c.wantSignedIn(t, "just before the idle timeout", token, used); !got.LastSeenAt.Equal(used) {
		t.Errorf("LastSeenAt = %v, want %v", got.LastSeenAt, used)
	}
	stored, err := s.ConsoleSession(t.Context(), consolesession.Hash(token))
	if err != nil || !stored.LastSeenAt.Equal(used) || !stored.CreatedAt.Equal(at(0)) {
		t.Errorf("stored after use = %+v, %v, want last seen %v, created %v", stored, err, used, at(0))
	}
	c.wantSignedIn(t, "past the first idle timeout, used meanwhile", token, at(0).Add(consolePolicy.IdleTimeout+time.Minute))
}

func testConsoleSessionEnd(t *testing.T, s Store) {
	alice := createUser(t, s, "alice")
	c := newConsoleClock(s)
	token := c.start(t, alice.ID, "192.0.2.1")
	for range 2 { // ending an ended session is no error
		if err := c.End(t.Context(), token); err != nil {
			t.Fatalf("End: %v", err)
		}
	}
	c.wantSignedOut(t, "ended", token, at(0))
	wantNoRow(t, s, "ended", token)
}

func testConsoleSessionsIndependent(t *testing.T, s Store) {
	alice := createUser(t, s, "alice")
	c := newConsoleClock(s)
	laptop := c.start(t, alice.ID, "192.0.2.1")
	phone := c.start(t, alice.ID, "198.51.100.7")
	if laptop == phone {
		t.Fatal("two sessions got one token")
	}
	if err := c.End(t.Context(), laptop); err != nil {
		t.Fatalf("End: %v", err)
	}
	c.wantSignedOut(t, "ended session", laptop, at(1))
	if got := c.wantSignedIn(t, "the user's other session", phone, at(1)); got.IP != "198.51.100.7" {
		t.Errorf("other session's IP = %q, want 198.51.100.7", got.IP)
	}
}

func testConsoleSessionsEndOnDisable(t *testing.T, s Store) {
	alice, bob := createUser(t, s, "alice"), createUser(t, s, "bob")
	c := newConsoleClock(s)
	laptop, phone := c.start(t, alice.ID, "192.0.2.1"), c.start(t, alice.ID, "198.51.100.7")
	bobs := c.start(t, bob.ID, "203.0.113.5")
	setState := func(state identity.State, n int) {
		t.Helper()
		if _, err := identity.SetUserState(t.Context(), s, alice.ID, state, at(n), userEvent(audit.UserDisabled, alice.ID)); err != nil {
			t.Fatalf("SetUserState(%s): %v", state, err)
		}
	}
	setState(identity.StateDisabled, 1)
	setState(identity.StateActive, 2)
	for _, token := range []string{laptop, phone} {
		c.wantSignedOut(t, "disabled then enabled", token, at(2))
	}
	c.wantSignedIn(t, "another user's session", bobs, at(2))

	again := c.start(t, alice.ID, "192.0.2.1")
	setState(identity.StateLocked, 3)
	c.wantSignedOut(t, "locked", again, at(3))
}

func testConsoleSessionsEndOnPassword(t *testing.T, s Store) {
	alice, bob := createUser(t, s, "alice"), createUser(t, s, "bob")
	c := newConsoleClock(s)
	laptop, phone := c.start(t, alice.ID, "192.0.2.1"), c.start(t, alice.ID, "198.51.100.7")
	bobs := c.start(t, bob.ID, "203.0.113.5")
	const hash = "$argon2id$v=19$m=65536,t=3,p=2$bmV3c2FsdA$bmV3aGFzaA"
	if err := identity.SetPasswordHash(t.Context(), s, alice.ID, hash, at(1), userEvent(audit.UserPasswordSet, alice.ID)); err != nil {
		t.Fatalf("SetPasswordHash: %v", err)
	}
	for _, token := range []string{laptop, phone} {
		c.wantSignedOut(t, "password set", token, at(1))
	}
	c.wantSignedIn(t, "another user's session", bobs, at(1))

	// A user changing their own password ends their console sessions too.
	users, err := identity.NewService(s, identity.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		identity.DefaultHashLimits(), func() time.Time { return at(2) })
	if err != nil {
		t.Fatal(err)
	}
	if err := users.SetPassword(t.Context(), audit.CLI, "alice", "correct horse battery"); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	current := c.start(t, alice.ID, "192.0.2.1")
	if _, err := users.ChangePassword(t.Context(), alice.ID, "correct horse battery", "staple battery horse", uuid.Nil, "192.0.2.1"); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	c.wantSignedOut(t, "password changed", current, at(2))
	c.wantSignedIn(t, "another user's session", bobs, at(2))
}

// With sessions idle after 10 minutes and over after 60, a Start at
// minute 61 finds carol's session expired though in use and bob's idle
// though young: one side of the stale rule each.
func testConsoleSessionStartDeletesStale(t *testing.T, s Store) {
	alice, bob, carol, dave := createUser(t, s, "alice"), createUser(t, s, "bob"), createUser(t, s, "carol"), createUser(t, s, "dave")
	c := newConsoleClock(s)
	expired := c.start(t, carol.ID, "192.0.2.1")
	if err := s.TouchConsoleSession(t.Context(), consolesession.Hash(expired), at(59)); err != nil {
		t.Fatalf("TouchConsoleSession: %v", err)
	}
	c.now = at(45)
	idle := c.start(t, bob.ID, "192.0.2.2")
	c.now = at(51) // last seen exactly at the idle bound: not before it
	live := c.start(t, dave.ID, "192.0.2.3")

	c.now = at(61)
	c.start(t, alice.ID, "192.0.2.4")
	wantNoRow(t, s, "expired session of another user", expired)
	wantNoRow(t, s, "idle session of another user", idle)
	if _, err := s.ConsoleSession(t.Context(), consolesession.Hash(live)); err != nil {
		t.Errorf("a live session: %v, want it kept", err)
	}
}

// A seed (a Django import) that disables a user or sets their password
// hash ends their console sessions as the identity flows do.
func testConsoleSessionsEndBySeed(t *testing.T, s Store) {
	alice, bob := createUser(t, s, "alice"), createUser(t, s, "bob")
	c := newConsoleClock(s)
	alices, bobs := c.start(t, alice.ID, "192.0.2.1"), c.start(t, bob.ID, "192.0.2.2")
	seed := authz.Seed{Users: []authz.SeedUser{
		{Username: "alice", State: string(identity.StateDisabled)},
		{Username: "bob", PasswordHash: "pbkdf2_sha256$870000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g="},
	}}
	if _, err := authz.ApplySeed(t.Context(), s, seed, "seeder", at(1), false); err != nil {
		t.Fatalf("ApplySeed: %v", err)
	}
	c.wantSignedOut(t, "a user the seed disabled", alices, at(1))
	c.wantSignedOut(t, "a user the seed gave a password hash", bobs, at(1))
}
