package cli_test

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
)

const alicePassword = "correct horse battery staple"

// TestTour_TokenCarriesRolesAndPermissions walks the README's tour: seed,
// create a user, log in, and verify the token with the server's JWKS.
func TestTour_TokenCarriesRolesAndPermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must("", "migrate")
	e.withUser("alice", alicePassword, "Analyst")
	srv := e.serve()
	id := userID(t, e, "alice")

	before := time.Now().Truncate(time.Second)
	raw := srv.token(t, "alice", alicePassword)

	set, err := jwk.Fetch(context.Background(), srv.url+"/.well-known/jwks.json")
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
	assertStrings(t, "roles", claims["roles"], "Analyst")
	assertStrings(t, "permissions", claims["permissions"], "analytics.report.view", "inventory.read")
	if tok.IssuedAt().Before(before) || tok.Expiration().Sub(tok.IssuedAt()) != 15*time.Minute || tok.JwtID() == "" {
		t.Fatalf("iat=%v exp=%v jti=%q: want iat now, 15 minute lifetime, a jti", tok.IssuedAt(), tok.Expiration(), tok.JwtID())
	}

	// A permission granted afterwards appears in the next token.
	e.must("", "role", "grant", "Analyst", "inventory.write")
	next, err := jwt.ParseString(srv.token(t, "alice", alicePassword), jwt.WithKeySet(set))
	if err != nil {
		t.Fatal(err)
	}
	perms, _ := next.Get("permissions")
	assertStrings(t, "permissions after grant", perms, "analytics.report.view", "inventory.read", "inventory.write")
	if next.JwtID() == tok.JwtID() {
		t.Fatal("two tokens share a jti")
	}

	// A disabled user cannot log in.
	e.must("", "user", "disable", "alice")
	assertError(t, srv.login(t, "alice", alicePassword), http.StatusUnauthorized, "invalid_credentials")
}

func TestLogin_PermissionsAreSortedUnionOfRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.withUser("bob", alicePassword, "Viewer")
	e.must("", "user", "add-role", "bob", "admin") // role names match case-insensitively
	e.must("", "user", "add-role", "bob", "Analyst")
	srv := e.serve()
	tok, err := jwt.ParseString(srv.token(t, "BOB", alicePassword), jwt.WithVerify(false))
	if err != nil {
		t.Fatal(err)
	}
	roles, _ := tok.Get("roles")
	perms, _ := tok.Get("permissions")
	assertStrings(t, "roles", roles, "Admin", "Analyst", "Viewer")
	assertStrings(t, "permissions", perms, "analytics.report.view", "inventory.read", "inventory.write")

	e.must("", "user", "remove-role", "bob", "Admin")
	e.must("", "user", "remove-role", "bob", "Analyst")
	e.must("", "user", "remove-role", "bob", "Viewer")
	tok, _ = jwt.ParseString(srv.token(t, "bob", alicePassword), jwt.WithVerify(false))
	roles, _ = tok.Get("roles")
	perms, _ = tok.Get("permissions")
	assertStrings(t, "roles without any", roles)
	assertStrings(t, "permissions without any", perms)
}

func TestLogin_FailuresAreIndistinguishableAndAudited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.withUser("alice", alicePassword, "Viewer")
	e.withUser("dora", alicePassword, "Viewer")
	e.must("", "user", "disable", "dora")
	srv := e.serve()

	wrong := srv.login(t, "alice", "not-the-password")
	unknown := srv.login(t, "nobody", alicePassword)
	disabled := srv.login(t, "dora", alicePassword)
	for _, r := range []response{wrong, unknown, disabled} {
		assertError(t, r, http.StatusUnauthorized, "invalid_credentials")
		if string(r.body) != string(wrong.body) {
			t.Fatalf("failure bodies differ: %s vs %s", r.body, wrong.body)
		}
	}
	srv.token(t, "alice", alicePassword)

	failed := auditEvents(t, e, "auth.login.failed")
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
	ok := auditEvents(t, e, "auth.login.succeeded")
	if len(ok) != 1 || ok[0]["ip"] != "127.0.0.1" {
		t.Fatalf("successful logins audited: %v", ok)
	}
	everything := e.must("", "audit", "list", "--limit", "1000")
	if strings.Contains(everything, alicePassword) || strings.Contains(everything, "not-the-password") {
		t.Fatal("a password reached the audit trail")
	}
	if logs := srv.logs.String(); strings.Contains(logs, alicePassword) || strings.Contains(logs, "not-the-password") {
		t.Fatal("a password reached the server log")
	}
}

// TestLogin_UnknownUserCostsAHashVerification guards the dummy-hash
// equalisation coarsely: without it an unknown username answers an order of
// magnitude faster than a wrong password. The bound is loose on purpose.
func TestLogin_UnknownUserCostsAHashVerification(t *testing.T) {
	e := newEnv(t)
	e.withUser("alice", alicePassword, "Viewer")
	srv := e.serve()
	median := func(username string) time.Duration {
		var d []time.Duration
		for range 7 {
			start := time.Now()
			srv.login(t, username, "wrong password!")
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
	e := newEnv(t)
	e.withUser("alice", alicePassword, "Viewer")
	srv := e.serve()
	cases := map[string]string{
		"malformed JSON":   `{"username": "alice", "password": `,
		"empty body":       ``,
		"not an object":    `["alice"]`,
		"missing password": `{"username": "alice"}`,
		"missing username": `{"password": "x"}`,
		"wrong type":       `{"username": 42, "password": "x"}`,
		"oversized body":   `{"username": "alice", "password": "` + strings.Repeat("a", 65<<10) + `"}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			r := srv.do(t, http.MethodPost, "/auth/login", body, "Content-Type", "application/json")
			assertError(t, r, http.StatusBadRequest, "invalid_request")
		})
	}
	if n := len(auditEvents(t, e, "auth.login.failed")) + len(auditEvents(t, e, "auth.login.succeeded")); n != 0 {
		t.Fatalf("bad requests wrote %d login events", n)
	}
}

func assertStrings(t *testing.T, what string, got any, want ...string) {
	t.Helper()
	list, ok := got.([]any)
	if !ok {
		// jwx returns []interface{} for JSON arrays; anything else is wrong.
		t.Fatalf("%s is %T, want a JSON array", what, got)
	}
	var s []string
	for _, v := range list {
		s = append(s, v.(string))
	}
	if !slices.Equal(s, want) {
		t.Fatalf("%s = %v, want %v", what, s, want)
	}
}
