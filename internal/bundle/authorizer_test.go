package bundle_test

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/bundle"
	"github.com/gaia-platform/iam/internal/tokens"
)

// authorizerFixture is an Authorizer over a bundle a test can replace, and
// an issuer of tokens signed with the bundle's key, both at clock.
type authorizerFixture struct {
	auth    *bundle.Authorizer
	current atomic.Pointer[bundle.Signed]
	clock   atomic.Pointer[time.Time]
	issuer  *tokens.Issuer
	keys    *tokens.Keyring
}

func newAuthorizerFixture(t testing.TB) *authorizerFixture {
	t.Helper()
	f := &authorizerFixture{}
	keys := keyring(t)
	f.keys = keys
	f.setClock(now)
	clock := func() time.Time { return *f.clock.Load() }
	f.issuer = tokens.NewIssuer(keys, "gaia-iam", ttl, clock)
	a, err := bundle.NewAuthorizer(f.current.Load, clock)
	if err != nil {
		t.Fatal(err)
	}
	f.auth = a
	return f
}

func (f *authorizerFixture) setClock(t time.Time) { f.clock.Store(&t) }

func (f *authorizerFixture) publish(t testing.TB, src bundle.Source) {
	t.Helper()
	f.current.Store(compile(t, f.keys, src, *f.clock.Load()))
}

func (f *authorizerFixture) token(t testing.TB, sub string, roles ...string) (string, tokens.Claims) {
	t.Helper()
	raw, claims, err := f.issuer.Issue(tokens.Subject{ID: sub, Username: "u", Type: tokens.TypeUser, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	return raw, claims
}

func TestAuthorizer_DecidesByTheCurrentBundle(t *testing.T) {
	f := newAuthorizerFixture(t)
	if _, err := f.auth.Decide(t.Context(), "x", "inventory.read"); !errors.Is(err, bundle.ErrUnavailable) {
		t.Fatalf("Decide before any bundle = %v, want ErrUnavailable", err)
	}
	f.publish(t, source)
	analyst, _ := f.token(t, "a1", "Analyst")
	revokedSubject, _ := f.token(t, "550e8400-e29b-41d4-a716-446655440000", "Admin")
	for _, tc := range []struct {
		name, token, permission string
		allow                   bool
		reason                  string
	}{
		{"granted", analyst, "inventory.read", true, ""},
		{"not granted", analyst, "inventory.write", false, "permission_missing"},
		{"garbage", "not.a.token", "inventory.read", false, "token_invalid"},
		// The subject was revoked a minute before this token was issued:
		// it is valid.
		{"issued after the subject's revocation", revokedSubject, "inventory.write", true, ""},
	} {
		d, err := f.auth.Decide(t.Context(), tc.token, tc.permission)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if d.Allow != tc.allow || (tc.reason != "" && !slices.Contains(d.Reasons, tc.reason)) {
			t.Errorf("%s: %+v, want allow %v with reason %q", tc.name, d, tc.allow, tc.reason)
		}
	}

	// A new revision revokes the token's jti and takes inventory.read from
	// Analyst: the next decision sees both.
	_, claims := f.token(t, "a1", "Analyst")
	next := source
	next.Roles = map[string][]string{"Analyst": {"analytics.report.view"}}
	next.TokenRevocations = map[string]time.Time{claims.ID: now.Add(ttl)}
	f.publish(t, next)
	d, err := f.auth.Decide(t.Context(), analyst, "inventory.read")
	if err != nil || d.Allow || !slices.Contains(d.Reasons, "permission_missing") {
		t.Errorf("after the role lost the permission: %+v, %v", d, err)
	}

	// The injected clock decides expiry.
	f.setClock(now.Add(ttl + time.Second))
	d, err = f.auth.Decide(t.Context(), analyst, "analytics.report.view")
	if err != nil || d.Allow || !slices.Contains(d.Reasons, "token_expired") {
		t.Errorf("after expiry: %+v, %v", d, err)
	}
}

func TestAuthorizer_RevokedTokenIsRefused(t *testing.T) {
	f := newAuthorizerFixture(t)
	raw, claims := f.token(t, "a1", "Analyst")
	src := source
	src.TokenRevocations = map[string]time.Time{claims.ID: now.Add(ttl)}
	f.publish(t, src)
	d, err := f.auth.Decide(t.Context(), raw, "inventory.read")
	if err != nil || d.Allow || !slices.Contains(d.Reasons, "token_revoked") {
		t.Errorf("revoked token: %+v, %v", d, err)
	}
}

// BenchmarkAuthorizer_Decide is the cost the admin API adds per request.
func BenchmarkAuthorizer_Decide(b *testing.B) {
	f := newAuthorizerFixture(b)
	f.publish(b, source)
	raw, _ := f.token(b, "a1", "Analyst")
	for b.Loop() {
		d, err := f.auth.Decide(b.Context(), raw, "inventory.read")
		if err != nil || !d.Allow {
			b.Fatalf("%+v, %v", d, err)
		}
	}
}
