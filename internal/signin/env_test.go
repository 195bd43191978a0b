package signin_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/serviceaccount"
	"github.com/gaia-platform/iam/internal/signin"
	"github.com/gaia-platform/iam/internal/store/postgres"
	"github.com/gaia-platform/iam/internal/store/sqlite"
	"github.com/gaia-platform/iam/internal/testkit"
	"github.com/gaia-platform/iam/internal/throttle"
	"github.com/gaia-platform/iam/internal/tokens"
)

// store is what the services under a sign-in ask of the database.
type store interface {
	identity.Store
	authz.Store
	serviceaccount.Store
	throttle.Store
	tokens.RefreshStore
	tokens.RevocationStore
	audit.TailReader
	Migrate() (uint, error)
	Close()
}

// A password that passes the policy, and another for a change.
const (
	password    = "correct horse battery"
	newPassword = "staple gun lighthouse"
)

// policy locks a name after three failures, and an IP after many more, so
// that the tests lock names only.
var policy = throttle.Policy{MaxUserFailures: 3, MaxIPFailures: 100, Window: 15 * time.Minute,
	LockBase: time.Minute, LockMax: time.Hour}

const (
	accessTTL = 10 * time.Minute
	ip        = "192.0.2.1"
)

// env is a sign-in service over a fresh store, on a clock the test moves.
type env struct {
	*signin.Service
	users    *identity.Service
	rbac     *authz.Service
	clients  *serviceaccount.Service
	sessions *tokens.Sessions
	verifier *tokens.Verifier
	trail    *audit.Trail
	clock    *testkit.Clock
}

// eachStore runs test against the SQLite store and the PostgreSQL one
// (skipped without a database, except under CI=true; see testkit).
func eachStore(t *testing.T, test func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "iam.db"))
		if err != nil {
			t.Fatal(err)
		}
		test(t, newEnv(t, s))
	})
	t.Run("postgres", func(t *testing.T) {
		s, err := postgres.Open(t.Context(), testkit.DatabaseURL(t))
		if err != nil {
			t.Fatal(err)
		}
		test(t, newEnv(t, s))
	})
}

func newEnv(t *testing.T, s store) *env {
	t.Helper()
	t.Cleanup(s.Close)
	if _, err := s.Migrate(); err != nil {
		t.Fatal(err)
	}
	clk := testkit.NewClock()
	cheap := identity.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	users, err := identity.NewService(s, cheap, identity.DefaultHashLimits(), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	keys := keyring(t, clk.Now())
	issuer := tokens.NewIssuer(keys, "https://iam.test", accessTTL, clk.Now)
	verifier := tokens.NewVerifier(keys, "https://iam.test", clk.Now)
	sessions := tokens.NewSessions(s, tokens.SessionPolicy{TTL: 24 * time.Hour, IdleTimeout: time.Hour}, clk.Now)
	pepper, err := serviceaccount.Pepper(t.Context(), s, "", time.Now)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		users: users, rbac: authz.NewService(s, clk.Now), clients: serviceaccount.NewService(s, pepper, clk.Now),
		sessions: sessions, verifier: verifier, trail: audit.NewTrail(s), clock: clk,
	}
	e.Service = signin.NewService(signin.Deps{
		Users: users, Grants: e.rbac, Clients: e.clients, Throttle: throttle.NewThrottle(s, policy, clk.Now),
		Sessions: sessions, Issuer: issuer, Verifier: verifier, Revoker: tokens.NewRevoker(s, accessTTL, clk.Now),
	})
	return e
}

// keyring signs with testkit's test key, valid from now.
func keyring(t *testing.T, now time.Time) *tokens.Keyring {
	t.Helper()
	data, err := os.ReadFile(testkit.SigningKeyFile(t))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := tokens.ParsePrivateKeyPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	key, err := tokens.NewKey(priv, now.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return tokens.NewKeyring(key)
}

// user creates an active user with password, holding roles.
func (e *env) user(t *testing.T, name string, roles ...string) identity.User {
	t.Helper()
	u, err := e.users.Create(t.Context(), audit.CLI, name, password, roles)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// role creates a role holding the permission code.
func (e *env) role(t *testing.T, name, code string) {
	t.Helper()
	ctx := t.Context()
	if _, err := e.rbac.CreatePermission(ctx, audit.CLI, code, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rbac.CreateRole(ctx, audit.CLI, name, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rbac.Grant(ctx, audit.CLI, name, code); err != nil {
		t.Fatal(err)
	}
}

// signIn signs name in with password, failing the test on an error.
func (e *env) signIn(t *testing.T, name string) signin.Tokens {
	t.Helper()
	tok, err := e.SignIn(t.Context(), name, password, ip)
	if err != nil {
		t.Fatalf("SignIn(%s): %v", name, err)
	}
	return tok
}

// events are the newest events of type (an action or a dotted prefix),
// newest first.
func (e *env) events(t *testing.T, typ string) []audit.Stored {
	t.Helper()
	evs, err := e.trail.Newest(t.Context(), audit.TailQuery{Type: typ, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// activeSessions are the ids of user's sessions that can still be
// refreshed.
func (e *env) activeSessions(t *testing.T, user identity.User) map[string]bool {
	t.Helper()
	fams, err := e.sessions.Active(t.Context(), user.ID)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, f := range fams {
		ids[f.ID.String()] = true
	}
	return ids
}
