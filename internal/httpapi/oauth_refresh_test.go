package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"golang.org/x/oauth2"

	"github.com/gaia-platform/iam/internal/testkit"
	"github.com/gaia-platform/iam/sdk"
)

const revokePath = "/oauth/revoke"

func postRevoke(t *testing.T, srv *testkit.Server, body string, header ...string) testkit.Response {
	t.Helper()
	return srv.Do(t, http.MethodPost, revokePath, body, append([]string{"Content-Type", "application/x-www-form-urlencoded"}, header...)...)
}

// assertRevoked checks RFC 7009's answer: 200 with an empty body.
func assertRevoked(t *testing.T, r testkit.Response) {
	t.Helper()
	if r.Status != http.StatusOK || len(r.Body) != 0 {
		t.Fatalf("revoke answered %d %q, want 200 with an empty body", r.Status, r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
}

func TestOAuthToken_RefreshGrantRotatesTheSession(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	srv := e.Serve()
	first := srv.LoginPair(t, "alice", alicePassword)
	r := refreshGrant(t, srv, first.Refresh)
	if r.Status != http.StatusOK {
		t.Fatalf("refresh grant: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if len(m) != 4 || m["token_type"] != "Bearer" || m["expires_in"] != float64(900) {
		t.Errorf("body %s, want access_token, token_type Bearer, expires_in 900 and refresh_token", r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", r.Header.Get("Cache-Control"))
	}
	second := testkit.PairOf(t, r)
	if second.Refresh == first.Refresh {
		t.Fatal("the refresh grant returned the same refresh token")
	}
	if c := srv.Claims(t, second.Access); c["username"] != "alice" || c["type"] != "user" {
		t.Errorf("claims %v, want alice's user token", c)
	}
	testkit.WantStrings(t, "permissions", srv.Claims(t, second.Access)["permissions"], "analytics.report.view", "inventory.read")
	// The grant and /auth/refresh rotate one chain: each spends what the
	// other issued.
	third := srv.MustRefresh(t, second.Refresh)
	if r := refreshGrant(t, srv, third.Refresh); r.Status != http.StatusOK {
		t.Fatalf("refresh grant of /auth/refresh's token: %d %s", r.Status, r.Body)
	}
	if n := len(e.AuditEvents("refresh_token.rotated")); n != 3 {
		t.Errorf("%d refresh_token.rotated events, want 3", n)
	}
	if strings.Contains(srv.Logs.String(), first.Refresh) {
		t.Fatal("the server log holds a refresh token")
	}
}

// A token one endpoint spent is reuse at the other: one detection.
func TestOAuthToken_ReuseAcrossTheTwoRefreshEndpointsIsDetected(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	srv := e.Serve("--refresh-reuse-grace", "0") // any second use is theft
	p := srv.LoginPair(t, "alice", alicePassword)
	next := testkit.PairOf(t, refreshGrant(t, srv, p.Refresh))
	testkit.AssertError(t, srv.Refresh(t, p.Refresh), http.StatusUnauthorized, "invalid_grant")
	assertOAuthError(t, refreshGrant(t, srv, next.Refresh), http.StatusBadRequest, "invalid_grant")
	q := srv.LoginPair(t, "alice", alicePassword)
	srv.MustRefresh(t, q.Refresh)
	assertOAuthError(t, refreshGrant(t, srv, q.Refresh), http.StatusBadRequest, "invalid_grant")
	if n := len(e.AuditEvents("refresh_token.reused")); n != 2 {
		t.Errorf("%d refresh_token.reused events, want 2", n)
	}
}

func TestOAuthToken_RefreshGrantErrors(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	creds := e.NewService("web")
	srv := e.Serve("--refresh-idle-timeout", "1s")
	live := srv.LoginPair(t, "alice", alicePassword)
	idle := srv.LoginPair(t, "alice", alicePassword)
	assertOAuthError(t, postToken(t, srv, form("grant_type", "refresh_token")), http.StatusBadRequest, "invalid_request")
	assertOAuthError(t, refreshGrant(t, srv, "not-a-token"), http.StatusBadRequest, "invalid_grant")
	// A client that authenticates must do so correctly, and a failed
	// client authentication spends nothing.
	grant := form("grant_type", "refresh_token", "refresh_token", live.Refresh)
	assertOAuthError(t, postToken(t, srv, grant, "Authorization", basic(creds.ClientID, "wrong")), http.StatusUnauthorized, "invalid_client")
	r := postToken(t, srv, grant, "Authorization", basic(creds.ClientID, creds.ClientSecret))
	if r.Status != http.StatusOK {
		t.Fatalf("refresh grant by an authenticated client: %d %s", r.Status, r.Body)
	}
	live = testkit.PairOf(t, r)
	time.Sleep(1100 * time.Millisecond)
	assertOAuthError(t, refreshGrant(t, srv, idle.Refresh), http.StatusBadRequest, "invalid_grant")
	if n := len(e.AuditEvents("refresh_token.reused")); n != 0 {
		t.Errorf("%d reuse events from refusals, want 0", n)
	}
	e.Must("", "user", "disable", "alice")
	assertOAuthError(t, refreshGrant(t, srv, live.Refresh), http.StatusBadRequest, "invalid_grant")
}

// A standard OAuth2 client logs in by the password grant and renews its
// expired access token by the refresh grant on its own.
func TestOAuthToken_XOAuth2PasswordClientRefreshesByItself(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Viewer")
	srv := e.Serve("--allow-password-grant=true")
	cfg := oauth2.Config{Endpoint: oauth2.Endpoint{TokenURL: srv.URL + tokenPath}}
	ctx := context.Background()
	tok, err := cfg.PasswordCredentialsToken(ctx, "alice", alicePassword)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("the password grant gave no refresh token")
	}
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute)
	renewed, err := cfg.TokenSource(ctx, &expired).Token()
	if err != nil {
		t.Fatalf("x/oauth2 refresh: %v", err)
	}
	if renewed.AccessToken == tok.AccessToken || renewed.RefreshToken == tok.RefreshToken || time.Until(renewed.Expiry) < 14*time.Minute {
		t.Errorf("renewed token %+v is not a fresh pair", renewed)
	}
	if c := srv.Claims(t, renewed.AccessToken); c["username"] != "alice" {
		t.Errorf("claims %v", c)
	}
	if n := len(e.AuditEvents("refresh_token.rotated")); n != 1 {
		t.Errorf("%d refresh_token.rotated events, want 1", n)
	}
}

func TestOAuthRevoke_RefreshTokenEndsItsSession(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	aliceID := e.UserID("alice")
	srv := e.Serve()
	p := srv.LoginPair(t, "alice", alicePassword)
	other := srv.LoginPair(t, "alice", alicePassword)
	// No client authentication: holding the token is the credential.
	assertRevoked(t, postRevoke(t, srv, form("token", p.Refresh, "token_type_hint", "refresh_token")))
	assertOAuthError(t, refreshGrant(t, srv, p.Refresh), http.StatusBadRequest, "invalid_grant")
	// Revoking it again, or a spent token of the same session, is a no-op.
	assertRevoked(t, postRevoke(t, srv, form("token", p.Refresh)))
	ev := e.AuditEvents("session.revoked")
	if len(ev) != 1 || ev[0]["actor"] != "user:"+aliceID || ev[0]["details"].(map[string]any)["reason"] != "revocation" {
		t.Errorf("session.revoked events %v, want one of alice's with reason revocation", ev)
	}
	// A spent token still names its session: revoking it ends the session.
	q := srv.MustRefresh(t, other.Refresh)
	assertRevoked(t, postRevoke(t, srv, form("token", other.Refresh)))
	testkit.AssertError(t, srv.Refresh(t, q.Refresh), http.StatusUnauthorized, "invalid_grant")
	if n := len(e.AuditEvents("refresh_token.reused")); n != 0 {
		t.Errorf("%d reuse events: revoking a spent token is not reuse", n)
	}
	if s := srv.Sessions(t, srv.LoginPair(t, "alice", alicePassword).Access); len(s) != 1 {
		t.Errorf("sessions %v, want only the new login's", s)
	}
}

func TestOAuthRevoke_AccessTokenIsPublishedUntilItExpires(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	creds := e.NewService("reporting", "Analyst")
	srv := e.Serve()
	p := srv.LoginPair(t, "alice", alicePassword)
	service := postToken(t, srv, form("grant_type", "client_credentials"), "Authorization", basic(creds.ClientID, creds.ClientSecret)).JSON(t)["access_token"].(string)
	stale, _ := srv.Bundle(t, "")
	assertRevoked(t, postRevoke(t, srv, form("token", p.Access, "token_type_hint", "access_token")))
	// The hint is ignored, and an authenticated client may revoke too.
	assertRevoked(t, postRevoke(t, srv, form("token", service, "token_type_hint", "refresh_token"), "Authorization", basic(creds.ClientID, creds.ClientSecret)))
	want := map[string]int64{}
	for _, tok := range []string{p.Access, service} {
		c := claimsOf(t, tok)
		want[c["jti"].(string)] = int64(c["exp"].(float64))
	}
	_, b := srv.BundleWhere(t, stale.Header.Get("ETag"), func(b opabundle.Bundle) bool {
		return len(revocations(b, "jti")) == 2
	})
	for jti, exp := range want {
		if got, _ := revocations(b, "jti")[jti].(json.Number).Int64(); got != exp {
			t.Errorf("jti %s revoked until %d, want the token's exp %d", jti, got, exp)
		}
	}
	testkit.WantDecision(t, b, p.Access, "inventory.read", false, "token_revoked")
	// The session is untouched: revoking an access token ends only it.
	srv.MustRefresh(t, p.Refresh)
	assertRevoked(t, postRevoke(t, srv, form("token", p.Access)))
	ev := e.AuditEvents("token.revoked")
	if len(ev) != 2 {
		t.Fatalf("token.revoked events %v, want one per token", ev)
	}
	for _, x := range ev {
		if x["details"].(map[string]any)["reason"] != "revocation" {
			t.Errorf("token.revoked event %v, want reason revocation", x)
		}
	}
}

func TestOAuthRevoke_UnknownTokensAre200AndBadRequestsAreErrors(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	creds := e.NewService("web")
	srv := e.Serve("--access-token-ttl", "1s")
	p := srv.LoginPair(t, "alice", alicePassword)
	time.Sleep(1100 * time.Millisecond) // p.Access is expired: nothing to revoke
	forged := p.Access[:strings.LastIndex(p.Access, ".")+1] + "c2lnbmF0dXJl"
	for name, tok := range map[string]string{
		"unknown":        "x4YbUq0w2Rr9b0DgWcJ6sHkR2m3Q9oQb1m0C8hZkX2E",
		"malformed":      "%%%not a token at all",
		"forged JWT":     forged,
		"expired access": p.Access,
		"huge":           strings.Repeat("A", 32<<10),
	} {
		t.Run(name, func(t *testing.T) {
			assertRevoked(t, postRevoke(t, srv, form("token", tok, "token_type_hint", "id_token")))
		})
	}
	if n := len(e.AuditEvents("token.revoked")) + len(e.AuditEvents("session.revoked")); n != 0 {
		t.Errorf("%d revocations recorded for tokens that were not live, want 0", n)
	}
	assertOAuthError(t, postRevoke(t, srv, form("token_type_hint", "access_token")), http.StatusBadRequest, "invalid_request")
	assertOAuthError(t, srv.Do(t, http.MethodPost, revokePath, `{"token":"x"}`, "Content-Type", "application/json"), http.StatusBadRequest, "invalid_request")
	assertOAuthError(t, postRevoke(t, srv, "token=a&token=b"), http.StatusBadRequest, "invalid_request")
	// Wrong client testkit.Credentials are refused and revoke nothing.
	assertOAuthError(t, postRevoke(t, srv, form("token", p.Refresh), "Authorization", basic(creds.ClientID, "wrong")), http.StatusUnauthorized, "invalid_client")
	srv.MustRefresh(t, p.Refresh)
	testkit.AssertError(t, srv.Do(t, http.MethodGet, revokePath, ""), http.StatusMethodNotAllowed, "method_not_allowed")
}

func TestDiscovery_ListsEveryEndpointAndGrant(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	srv := e.Serve("--public-url", "https://iam.example.test/")
	r := srv.Do(t, http.MethodGet, "/.well-known/openid-configuration", "")
	d := r.JSON(t)
	base := "https://iam.example.test"
	for key, path := range map[string]string{
		"jwks_uri": "/.well-known/jwks.json", "token_endpoint": tokenPath, "revocation_endpoint": revokePath,
		"userinfo_endpoint": "/auth/me", "login_endpoint": "/auth/login", "refresh_endpoint": "/auth/refresh",
		"logout_endpoint": "/auth/logout", "sessions_endpoint": "/auth/sessions", "policy_bundle_endpoint": "/bundles/gaia.tar.gz",
	} {
		if d[key] != base+path {
			t.Errorf("%s = %v, want %s", key, d[key], base+path)
		}
	}
	if d["issuer"] != "gaia-iam" {
		t.Errorf("issuer %v", d["issuer"])
	}
	testkit.WantStrings(t, "revocation_endpoint_auth_methods_supported", d["revocation_endpoint_auth_methods_supported"], "client_secret_basic", "client_secret_post", "none")
	// Every endpoint listed answers: none is a 404.
	for key, v := range d {
		u, ok := v.(string)
		if !ok || !strings.HasPrefix(u, base) {
			continue
		}
		if got := srv.Do(t, http.MethodOptions, strings.TrimPrefix(u, base), ""); got.Status == http.StatusNotFound {
			t.Errorf("%s %s is not a route of the server", key, u)
		}
	}
}

// Refresh-token theft end to end: the stolen token's replay revokes the
// user's tokens, and a service's SDK denies the original access token
// with token_revoked at its next bundle poll.
func TestRefreshReuse_ReachesAnSDKAuthorizerAtTheNextPoll(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	srv := e.Serve("--refresh-reuse-grace", "0") // any second use is theft
	authz := testkit.ReadyAuthorizer(t, srv.URL)
	ctx := context.Background()
	stolen := srv.LoginPair(t, "alice", alicePassword)
	if d, err := authz.Authorize(ctx, stolen.Access, "inventory.read"); err != nil || !d.Allow {
		t.Fatalf("before the theft: %+v, %v", d, err)
	}
	testkit.PairOf(t, refreshGrant(t, srv, stolen.Refresh)) // the legitimate client
	assertOAuthError(t, refreshGrant(t, srv, stolen.Refresh), http.StatusBadRequest, "invalid_grant")
	replayed := time.Now()
	// Bundle compilation and one poll of 1s, with room for a loaded machine.
	testkit.Eventually(t, 5*time.Second, "the SDK denies the original access token as revoked", func() bool {
		d, err := authz.Authorize(ctx, stolen.Access, "inventory.read")
		return err == nil && !d.Allow && slices.Equal(d.Reasons, []string{sdk.ReasonTokenRevoked})
	})
	t.Logf("revocation reached the SDK %v after the replay", time.Since(replayed).Round(10*time.Millisecond))
}
