package httpapi_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/gaia-platform/iam/internal/testkit"
)

// TestTour_TokenCarriesRolesAndPermissions walks the README's tour: seed,
// create a user, log in, and verify the token with the server's JWKS.
func TestTour_TokenCarriesRolesAndPermissions(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Must("", "migrate")
	e.WithUser("alice", alicePassword, "Analyst")
	srv := e.Serve()
	id := e.UserID("alice")

	before := time.Now().Truncate(time.Second)
	raw := srv.Token(t, "alice", alicePassword)

	set, err := jwk.Fetch(context.Background(), srv.URL+"/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseString(raw, jwt.WithKeySet(set), jwt.WithValidate(true), jwt.WithIssuer("gaia-iam"))
	if err != nil {
		t.Fatalf("token does not verify with the published JWKS: %v", err)
	}
	msg, err := jws.ParseString(raw)
	if err != nil {
		t.Fatal(err)
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	key, _ := set.Key(0)
	if hdr.Algorithm().String() != "RS256" || hdr.Type() != "JWT" || hdr.KeyID() != key.KeyID() {
		t.Fatalf("header alg=%s typ=%s kid=%s, want RS256 JWT %s", hdr.Algorithm(), hdr.Type(), hdr.KeyID(), key.KeyID())
	}

	claims, err := tok.AsMap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range claims {
		names = append(names, k)
	}
	slices.Sort(names)
	want := []string{"exp", "iat", "iss", "jti", "permissions", "roles", "sub", "type", "username"}
	if !slices.Equal(names, want) {
		t.Fatalf("claims %v, want exactly %v", names, want)
	}
	if tok.Subject() != id || claims["username"] != "alice" || claims["type"] != "user" {
		t.Fatalf("sub/username/type = %s/%v/%v, want %s/alice/user", tok.Subject(), claims["username"], claims["type"], id)
	}
	testkit.AssertStrings(t, "roles", claims["roles"], "Analyst")
	testkit.AssertStrings(t, "permissions", claims["permissions"], "analytics.report.view", "inventory.read")
	if tok.IssuedAt().Before(before) || tok.Expiration().Sub(tok.IssuedAt()) != 15*time.Minute || tok.JwtID() == "" {
		t.Fatalf("iat=%v exp=%v jti=%q: want iat now, 15 minute lifetime, a jti", tok.IssuedAt(), tok.Expiration(), tok.JwtID())
	}

	// A permission granted afterwards appears in the next token.
	e.Must("", "role", "grant", "Analyst", "inventory.write")
	next, err := jwt.ParseString(srv.Token(t, "alice", alicePassword), jwt.WithKeySet(set))
	if err != nil {
		t.Fatal(err)
	}
	perms, _ := next.Get("permissions")
	testkit.AssertStrings(t, "permissions after grant", perms, "analytics.report.view", "inventory.read", "inventory.write")
	if next.JwtID() == tok.JwtID() {
		t.Fatal("two tokens share a jti")
	}

	// A disabled user cannot log in.
	e.Must("", "user", "disable", "alice")
	testkit.AssertError(t, srv.Login(t, "alice", alicePassword), http.StatusUnauthorized, "invalid_credentials")
}

func TestLogin_PermissionsAreSortedUnionOfRoles(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("bob", alicePassword, "Viewer")
	e.Must("", "user", "add-role", "bob", "admin") // role names match case-insensitively
	e.Must("", "user", "add-role", "bob", "Analyst")
	srv := e.Serve()
	tok, err := jwt.ParseString(srv.Token(t, "BOB", alicePassword), jwt.WithVerify(false))
	if err != nil {
		t.Fatal(err)
	}
	roles, _ := tok.Get("roles")
	perms, _ := tok.Get("permissions")
	testkit.AssertStrings(t, "roles", roles, "Admin", "Analyst", "Viewer")
	testkit.AssertStrings(t, "permissions", perms, "analytics.report.view", "inventory.read", "inventory.write")

	e.Must("", "user", "remove-role", "bob", "Admin")
	e.Must("", "user", "remove-role", "bob", "Analyst")
	e.Must("", "user", "remove-role", "bob", "Viewer")
	tok, _ = jwt.ParseString(srv.Token(t, "bob", alicePassword), jwt.WithVerify(false))
	roles, _ = tok.Get("roles")
	perms, _ = tok.Get("permissions")
	testkit.AssertStrings(t, "roles without any", roles)
	testkit.AssertStrings(t, "permissions without any", perms)
}

func TestLogin_FailuresAreIndistinguishableAndAudited(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Viewer")
	e.WithUser("dora", alicePassword, "Viewer")
	e.Must("", "user", "disable", "dora")
	srv := e.Serve()

	wrong := srv.Login(t, "alice", "not-the-password")
	unknown := srv.Login(t, "nobody", alicePassword)
	disabled := srv.Login(t, "dora", alicePassword)
	for _, r := range []testkit.Response{wrong, unknown, disabled} {
		testkit.AssertError(t, r, http.StatusUnauthorized, "invalid_credentials")
		if string(r.Body) != string(wrong.Body) {
			t.Fatalf("failure bodies differ: %s vs %s", r.Body, wrong.Body)
		}
	}
	srv.Token(t, "alice", alicePassword)

	failed := e.AuditEvents("auth.login.failed")
	if len(failed) != 3 {
		t.Fatalf("%d failed-login events, want 3", len(failed))
	}
	var reasons []string
	for _, ev := range failed {
		if ev["ip"] != "127.0.0.1" {
			t.Fatalf("failed login audited with ip %v, want 127.0.0.1", ev["ip"])
		}
		reasons = append(reasons, ev["details"].(map[string]any)["reason"].(string))
	}
	slices.Sort(reasons)
	if !slices.Equal(reasons, []string{"account_disabled", "unknown_user", "wrong_password"}) {
		t.Fatalf("reasons %v", reasons)
	}
	ok := e.AuditEvents("auth.login.succeeded")
	if len(ok) != 1 || ok[0]["ip"] != "127.0.0.1" {
		t.Fatalf("successful logins audited: %v", ok)
	}
	everything := e.Must("", "audit", "list", "--limit", "1000")
	if strings.Contains(everything, alicePassword) || strings.Contains(everything, "not-the-password") {
		t.Fatal("a password reached the audit trail")
	}
	if logs := srv.Logs.String(); strings.Contains(logs, alicePassword) || strings.Contains(logs, "not-the-password") {
		t.Fatal("a password reached the server log")
	}
}

// TestLogin_UnknownUserCostsAHashVerification guards the dummy-hash
// equalisation coarsely: without it an unknown username answers an order of
// magnitude faster than a wrong password. The bound is loose on purpose.
func TestLogin_UnknownUserCostsAHashVerification(t *testing.T) {
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Viewer")
	srv := e.Serve()
	median := func(username string) time.Duration {
		var d []time.Duration
		for range 7 {
			start := time.Now()
			srv.Login(t, username, "wrong password!")
			d = append(d, time.Since(start))
		}
		slices.Sort(d)
		return d[len(d)/2]
	}
	known, unknown := median("alice"), median("nobody-here")
	if unknown*3 < known {
		t.Fatalf("unknown user answered in %v, wrong password in %v: unknown users are distinguishable by timing", unknown, known)
	}
}

func TestLogin_BadRequestsAre400AndChangeNothing(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Viewer")
	srv := e.Serve()
	cases := map[string]string{
		"malformed JSON":   `{"username": "alice", "password": `,
		"empty body":       ``,
		"not an object":    `["alice"]`,
		"missing password": `{"username": "alice"}`,
		"missing username": `{"password": "x"}`,
		"wrong type":       `{"username": 42, "password": "x"}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			r := srv.Do(t, http.MethodPost, "/auth/login", body, "Content-Type", "application/json")
			testkit.AssertError(t, r, http.StatusBadRequest, "invalid_request")
		})
	}
	if n := len(e.AuditEvents("auth.login.failed")) + len(e.AuditEvents("auth.login.succeeded")); n != 0 {
		t.Fatalf("bad requests wrote %d login events", n)
	}
}

// A username no account can have (a NUL, which PostgreSQL text cannot
// hold; bytes that are not UTF-8, which only a form can carry) makes a
// malformed request: 400, and nothing is checked, counted or audited.
func TestLogin_UnstorableUsernameIsABadRequest(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Viewer")
	srv := e.Serve("--allow-password-grant=true")
	testkit.AssertError(t, srv.Login(t, "alice\x00", alicePassword), http.StatusBadRequest, "invalid_request")
	for _, name := range []string{"al%FFice", "%F9", "alice%00"} {
		assertOAuthError(t, postToken(t, srv, "grant_type=password&username="+name+"&password=x"), http.StatusBadRequest, "invalid_request")
	}
	if n := len(e.AuditEvents("auth.login.failed")); n != 0 {
		t.Fatalf("refused requests wrote %d auth.login.failed events", n)
	}
}
