package cli_test

import (
	"context"
	"crypto/rsa"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"

	"github.com/gaia-platform/iam/internal/testkit"
)

// storedKeys is the Serve flag of a server signing with the keys kept in
// the database, which rotate, instead of the test key file.
const storedKeys = "--signing-key-file="

// rotatingIAM is an installation on a hand-moved clock with a user, alice,
// who holds inventory.read.
func rotatingIAM(t *testing.T) *testkit.IAM {
	t.Helper()
	e := testkit.NewIAM(t)
	e.Clock = testkit.NewClock()
	e.WithUser("alice", "correct horse battery", "Viewer")
	return e
}

func TestKeysRotate_NewKeyPublishedAtOnceSignsAfterGraceOldKeyVerifiesUntilPruned(t *testing.T) {
	t.Parallel()
	e := rotatingIAM(t)
	srv := e.Serve(storedKeys)
	oldToken := srv.Token(t, "alice", "correct horse battery")
	k1 := kid(t, oldToken)
	wantJWKS(t, srv, k1)
	rotatedAt := e.Clock.Now()

	out := e.Must("", "keys", "rotate")
	k2 := regexp.MustCompile(`new signing key (\S+) is published now`).FindStringSubmatch(out)
	if k2 == nil {
		t.Fatalf("keys rotate printed %q", out)
	}
	activates, retire := rotatedAt.Add(5*time.Minute), rotatedAt.Add(5*time.Minute+15*time.Minute+time.Minute)
	if !strings.Contains(out, stamp(activates)) || !strings.Contains(out, stamp(retire)) {
		t.Errorf("keys rotate printed %q, want activation at %s and retire-after %s (5m grace, 15m tokens, 1m skew)", out, stamp(activates), stamp(retire))
	}
	testkit.Eventually(t, 10*time.Second, "the running server publishes the pending key", func() bool { return sameKids(jwksKids(t, srv), k1, k2[1]) })
	wantKeysList(t, e, k1+" active", k2[1]+" pending")
	if got := kid(t, srv.Token(t, "alice", "correct horse battery")); got != k1 {
		t.Fatalf("within the grace a token is signed by %s, want the old key %s", got, k1)
	}
	_, b := srv.BundleWhere(t, "", func(b opabundle.Bundle) bool { return sameKids(bundleKids(b), k1, k2[1]) })
	if got := b.Signatures.Signatures; len(got) != 1 || kid(t, got[0]) != k1 {
		t.Errorf("within the grace the bundle is signed by %v, want %s", got, k1)
	}

	e.Clock.Advance(5 * time.Minute)
	newToken := srv.Token(t, "alice", "correct horse battery")
	if got := kid(t, newToken); got != k2[1] {
		t.Fatalf("after the grace a token is signed by %s, want the new key %s", got, k2[1])
	}
	srv.BundleWhere(t, "", func(b opabundle.Bundle) bool { return kid(t, b.Signatures.Signatures[0]) == k2[1] })
	wantKeysList(t, e, k1+" retiring", k2[1]+" active")
	for _, tok := range []string{oldToken, newToken} {
		if r := srv.Me(t, tok); r.Status != http.StatusOK {
			t.Fatalf("/auth/me with a token of %s: %d %s", kid(t, tok), r.Status, r.Body)
		}
	}
	if out := e.Must("", "keys", "prune"); !strings.Contains(out, "kept "+k1) || !strings.Contains(out, "nothing to prune") {
		t.Errorf("keys prune while the old key may verify live tokens printed %q, want it kept", out)
	}

	e.Clock.Advance(10*time.Minute + time.Second) // the old token has expired
	testkit.AssertError(t, srv.Me(t, oldToken), http.StatusUnauthorized, "invalid_token")
	wantJWKS(t, srv, k1, k2[1])

	e.Clock.Advance(6 * time.Minute) // past the retire-after
	wantJWKS(t, srv, k2[1])
	srv.BundleWhere(t, "", func(b opabundle.Bundle) bool { return sameKids(bundleKids(b), k2[1]) })
	wantKeysList(t, e, k1+" retired", k2[1]+" active")
	if out := e.Must("", "keys", "prune"); strings.TrimSpace(out) != "pruned "+k1 {
		t.Errorf("keys prune printed %q, want pruned %s", out, k1)
	}
	wantKeysList(t, e, k2[1]+" active")
	if r := srv.Me(t, srv.Token(t, "alice", "correct horse battery")); r.Status != http.StatusOK {
		t.Fatalf("/auth/me with a token issued after the prune: %d %s", r.Status, r.Body)
	}
	for action, target := range map[string]string{"signing_key.rotated": k2[1], "signing_key.pruned": k1} {
		if ev := e.AuditEvents(action); len(ev) != 1 || ev[0]["target"] != "signing_key:"+target {
			t.Errorf("%s events %v, want one for %s", action, ev, target)
		}
	}
}

func TestKeysRotate_ReplicasOnOneDatabaseAgree(t *testing.T) {
	t.Parallel()
	e := rotatingIAM(t)
	a, b := e.Serve(storedKeys), e.Serve(storedKeys)
	oldToken := a.Token(t, "alice", "correct horse battery")
	k1 := kid(t, oldToken)
	e.Must("", "keys", "rotate", "--key-rotation-grace", "1m")
	var k2 string
	testkit.Eventually(t, 10*time.Second, "both replicas publish the same two keys", func() bool {
		ka, kb := jwksKids(t, a), jwksKids(t, b)
		if len(ka) == 2 && slices.Equal(ka, kb) && slices.Contains(ka, k1) {
			k2 = slices.DeleteFunc(ka, func(k string) bool { return k == k1 })[0]
			return true
		}
		return false
	})
	e.Clock.Advance(time.Minute)
	for _, s := range []*testkit.Server{a, b} {
		tok := s.Token(t, "alice", "correct horse battery")
		if got := kid(t, tok); got != k2 {
			t.Fatalf("a replica signs with %s after the grace, want %s", got, k2)
		}
		for _, other := range []*testkit.Server{a, b} {
			for _, t2 := range []string{tok, oldToken} {
				if r := other.Me(t, t2); r.Status != http.StatusOK {
					t.Fatalf("a replica refuses a token of %s: %d %s", kid(t, t2), r.Status, r.Body)
				}
			}
		}
	}
	_, ba := a.BundleWhere(t, "", func(b opabundle.Bundle) bool { return kid(t, b.Signatures.Signatures[0]) == k2 })
	_, bb := b.BundleWhere(t, "", func(b opabundle.Bundle) bool { return kid(t, b.Signatures.Signatures[0]) == k2 })
	if ba.Manifest.Revision != bb.Manifest.Revision {
		t.Errorf("replicas serve revisions %s and %s after the rotation, want one", ba.Manifest.Revision, bb.Manifest.Revision)
	}
}

func TestKeysRotate_RevokeCurrentStopsTrustingTheOldKeyAtOnce(t *testing.T) {
	t.Parallel()
	e := rotatingIAM(t)
	srv := e.Serve(storedKeys)
	oldToken := srv.Token(t, "alice", "correct horse battery")
	k1 := kid(t, oldToken)
	e.Must("", "keys", "rotate") // a pending key, leaked along with the active one
	out := e.Must("", "keys", "rotate", "--revoke-current")
	k3 := regexp.MustCompile(`new signing key (\S+) signs now`).FindStringSubmatch(out)
	if k3 == nil {
		t.Fatalf("keys rotate --revoke-current printed %q", out)
	}
	testkit.Eventually(t, 10*time.Second, "the running server distrusts the old key", func() bool {
		return srv.Me(t, oldToken).Status == http.StatusUnauthorized
	})
	wantJWKS(t, srv, k3[1])
	newToken := srv.Token(t, "alice", "correct horse battery")
	if got := kid(t, newToken); got != k3[1] {
		t.Fatalf("after --revoke-current a token is signed by %s, want %s at once", got, k3[1])
	}
	if r := srv.Me(t, newToken); r.Status != http.StatusOK {
		t.Fatalf("/auth/me with the new key's token: %d %s", r.Status, r.Body)
	}
	srv.BundleWhere(t, "", func(b opabundle.Bundle) bool { return sameKids(bundleKids(b), k3[1]) })
	wantKeysList(t, e, k3[1]+" active")
	revoked := e.AuditEvents("signing_key.revoked")
	if len(revoked) != 2 || !slices.ContainsFunc(revoked, func(ev map[string]any) bool { return ev["target"] == "signing_key:"+k1 }) {
		t.Errorf("signing_key.revoked events %v, want the active and the pending key", revoked)
	}
}

func TestKeysRotate_RefusesWhenTheServerSignsWithAKeyFile(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	assertFails(t, e.Run("", "keys", "rotate", "--signing-key-file", e.KeyFile), "IAM_SIGNING_KEY_FILE is set")
	assertFails(t, e.Run("", "keys", "rotate", "--key-rotation-grace", "soon"), "IAM_KEY_ROTATION_GRACE")
	assertFails(t, e.Run("", "keys", "rotate", "--access-token-ttl", "0s"), "IAM_ACCESS_TOKEN_TTL")
	if ev := e.AuditEvents("signing_key.rotated"); len(ev) != 0 {
		t.Errorf("a refused rotation was audited: %v", ev)
	}
}

// TestKeysRotate_SDKKeepsAllowingAcrossARotation runs an SDK authorizer
// through a rotation: it picks up the pending key from the JWKS within the
// grace, so it accepts the bundle the new key signs, and it allows tokens
// of the old and the new key alike.
func TestKeysRotate_SDKKeepsAllowingAcrossARotation(t *testing.T) {
	t.Parallel()
	e := rotatingIAM(t)
	srv := e.Serve(storedKeys)
	// Record what the JWKS tells the SDK, to know when it holds the new key.
	var bothKeys atomic.Int32 // JWKS answers listing the old and the pending key
	target, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(r *http.Response) error {
		if r.Request.URL.Path != "/.well-known/jwks.json" {
			return nil
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		if set, err := jwk.Parse(body); err == nil && set.Len() == 2 {
			bothKeys.Add(1)
		}
		return nil
	}
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)
	authz := testkit.ReadyAuthorizer(t, front.URL)
	ctx := context.Background()
	oldToken := srv.Token(t, "alice", "correct horse battery")
	k1 := kid(t, oldToken)

	e.Must("", "keys", "rotate")
	// The SDK applies a JWKS before it polls again: a second answer with
	// both keys means it holds the pending key, as the grace intends.
	testkit.Eventually(t, 30*time.Second, "the SDK polled the JWKS twice since the rotation", func() bool { return bothKeys.Load() >= 2 })
	e.Clock.Advance(5 * time.Minute)
	newToken := srv.Token(t, "alice", "correct horse battery")
	if kid(t, newToken) == k1 {
		t.Fatal("the new key does not sign after the grace")
	}
	r, _ := srv.BundleWhere(t, "", func(b opabundle.Bundle) bool { return kid(t, b.Signatures.Signatures[0]) == kid(t, newToken) })
	served := strings.Trim(r.Header.Get("ETag"), `"`)
	testkit.Eventually(t, 15*time.Second, "the SDK loads the bundle the new key signs", func() bool {
		d, err := authz.Authorize(ctx, newToken, "inventory.read")
		return err == nil && d.Revision == served
	})
	for _, tok := range []string{oldToken, newToken} {
		if !authz.HasPermission(ctx, tok, "inventory.read") || authz.HasPermission(ctx, tok, "inventory.write") {
			t.Errorf("the SDK does not decide a token of %s by its Viewer role after the rotation", kid(t, tok))
		}
	}
}

// Without a key file, replicas on one database generate one signing key
// between them and keep it there (`iam serve` with stored keys).
func TestServe_ReplicasShareOneGeneratedKey(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Viewer")
	a := e.Serve("--signing-key-file", "")
	b := e.Serve("--signing-key-file", "")
	ja, jb := a.Do(t, http.MethodGet, "/.well-known/jwks.json", ""), b.Do(t, http.MethodGet, "/.well-known/jwks.json", "")
	if string(ja.Body) != string(jb.Body) {
		t.Fatalf("replicas publish different keys:\n%s\n%s", ja.Body, jb.Body)
	}
	set, err := jwk.Parse(ja.Body)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := set.Key(0)
	var raw rsa.PublicKey
	if err := k.Raw(&raw); err != nil || raw.N.BitLen() != 3072 {
		t.Fatalf("generated key has %d bits, want 3072 (%v)", raw.N.BitLen(), err)
	}
	// A token from one replica verifies on the other.
	if r := b.Me(t, a.Token(t, "alice", alicePassword)); r.Status != http.StatusOK {
		t.Fatalf("replica b rejects replica a's token: %d %s", r.Status, r.Body)
	}
	if _, err := jwt.ParseString(a.Token(t, "alice", alicePassword), jwt.WithKeySet(set)); err != nil {
		t.Fatal(err)
	}
}

// --- helpers -------------------------------------------------------------

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// kid is the key id in the header of a token or a bundle signature.
func kid(t *testing.T, token string) string {
	t.Helper()
	msg, err := jws.Parse([]byte(token))
	if err != nil || len(msg.Signatures()) != 1 {
		t.Fatalf("token is not a JWS with one signature: %v", err)
	}
	return msg.Signatures()[0].ProtectedHeaders().KeyID()
}

func setKids(set jwk.Set) []string {
	var kids []string
	for i := range set.Len() {
		k, _ := set.Key(i)
		kids = append(kids, k.KeyID())
	}
	slices.Sort(kids)
	return kids
}

func jwksKids(t *testing.T, s *testkit.Server) []string {
	t.Helper()
	set, err := jwk.Parse(s.Do(t, http.MethodGet, "/.well-known/jwks.json", "").Body)
	if err != nil {
		t.Fatal(err)
	}
	return setKids(set)
}

func bundleKids(b opabundle.Bundle) []string {
	var kids []string
	for _, k := range b.Data["gaia"].(map[string]any)["keys"].(map[string]any)["keys"].([]any) {
		kids = append(kids, k.(map[string]any)["kid"].(string))
	}
	slices.Sort(kids)
	return kids
}

func sameKids(got []string, want ...string) bool {
	want = slices.Clone(want)
	slices.Sort(want)
	return slices.Equal(got, want)
}

func wantJWKS(t *testing.T, s *testkit.Server, want ...string) {
	t.Helper()
	if got := jwksKids(t, s); !sameKids(got, want...) {
		t.Fatalf("JWKS kids %q, want %q", got, want)
	}
}

// wantKeysList checks `iam keys list` as "kid state" lines, in order.
func wantKeysList(t *testing.T, e *testkit.IAM, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(e.Must("", "keys", "list")), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "KID") {
		t.Fatalf("keys list printed %q, want a header", lines)
	}
	var got []string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		got = append(got, f[0]+" "+f[1])
	}
	if !slices.Equal(got, want) {
		t.Fatalf("keys list\n got %q\nwant %q", got, want)
	}
}
