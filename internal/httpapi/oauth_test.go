package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gaia-platform/iam/internal/testkit"
)

func TestOAuthToken_XOAuth2ClientCredentialsGetsAServiceToken(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	creds := e.NewService("reporting", "Analyst")
	srv := e.Serve()

	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleAutoDetect, oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cfg := clientcredentials.Config{ClientID: creds.ClientID, ClientSecret: creds.ClientSecret, TokenURL: srv.URL + tokenPath, AuthStyle: style}
		tok, err := cfg.Token(context.Background())
		if err != nil {
			t.Fatalf("auth style %d: %v", style, err)
		}
		if tok.TokenType != "Bearer" || tok.RefreshToken != "" || time.Until(tok.Expiry) < 14*time.Minute {
			t.Errorf("auth style %d: token type %q, refresh token %q, expiry %v", style, tok.TokenType, tok.RefreshToken, tok.Expiry)
		}
		c := srv.Claims(t, tok.AccessToken)
		if c["type"] != "service" || c["sub"] != creds.ClientID || c["username"] != "reporting" || c["iss"] != "gaia-iam" {
			t.Errorf("claims %v, want a service token of reporting (%s)", c, creds.ClientID)
		}
		testkit.WantStrings(t, "roles", c["roles"], "Analyst")
		testkit.WantStrings(t, "permissions", c["permissions"], "analytics.report.view", "inventory.read")
	}

	// An http.Client from the config calls a service with the token.
	cfg := clientcredentials.Config{ClientID: creds.ClientID, ClientSecret: creds.ClientSecret, TokenURL: srv.URL + tokenPath}
	resp, err := cfg.Client(context.Background()).Get(srv.URL + "/auth/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/auth/me with the client's token: %d", resp.StatusCode)
	}
	if len(e.AuditEvents("auth.client.succeeded")) != 4 {
		t.Errorf("want one auth.client.succeeded event per token")
	}
}

func TestOAuthToken_ClientCredentialsResponseIsNoStoreWithoutRefreshToken(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	creds := e.NewService("billing")
	srv := e.Serve()
	for name, r := range map[string]testkit.Response{
		"basic": postToken(t, srv, form("grant_type", "client_credentials"), "Authorization", basic(creds.ClientID, creds.ClientSecret)),
		"form":  postToken(t, srv, form("grant_type", "client_credentials", "client_id", creds.ClientID, "client_secret", creds.ClientSecret)),
	} {
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", name, r.Status, r.Body)
		}
		m := r.JSON(t)
		if len(m) != 3 || m["token_type"] != "Bearer" || m["expires_in"] != float64(900) || m["access_token"] == "" {
			t.Errorf("%s: body %s, want exactly access_token, token_type Bearer and expires_in 900", name, r.Body)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", name, r.Header.Get("Cache-Control"))
		}
		c := srv.Claims(t, m["access_token"].(string))
		testkit.WantStrings(t, "roles", c["roles"])
		testkit.WantStrings(t, "permissions", c["permissions"])
	}
}

func TestOAuthToken_BadClientsGetInvalidClient401(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	good := e.NewService("good", "Viewer")
	gone := e.NewService("gone", "Viewer")
	if out := e.Must("", "service", "disable", "gone"); !strings.Contains(out, "disabled gone") {
		t.Fatalf("service disable printed %q", out)
	}
	if out := e.Must("", "service", "disable", "gone"); !strings.Contains(out, "nothing to do") {
		t.Fatalf("second service disable printed %q", out)
	}
	srv := e.Serve()
	grant := form("grant_type", "client_credentials")
	cases := []struct {
		name   string
		body   string
		header []string
		reason string
	}{
		{"wrong secret, basic", grant, []string{"Authorization", basic(good.ClientID, good.ClientSecret+"x")}, "wrong_secret"},
		{"wrong secret, form", form("grant_type", "client_credentials", "client_id", good.ClientID, "client_secret", "nope"), nil, "wrong_secret"},
		{"secret of another client", grant, []string{"Authorization", basic(good.ClientID, gone.ClientSecret)}, "wrong_secret"},
		{"disabled client", grant, []string{"Authorization", basic(gone.ClientID, gone.ClientSecret)}, "account_disabled"},
		{"unknown client", grant, []string{"Authorization", basic("6f1e9a3c-0000-4000-8000-000000000000", good.ClientSecret)}, "unknown_client"},
		{"client id not a uuid", grant, []string{"Authorization", basic("good", good.ClientSecret)}, "unknown_client"},
		{"no credentials", grant, nil, ""},
		{"id without secret", form("grant_type", "client_credentials", "client_id", good.ClientID), nil, ""},
		{"bearer instead of basic", grant, []string{"Authorization", "Bearer " + good.ClientSecret}, ""},
		{"basic and form name different clients", form("grant_type", "client_credentials", "client_id", gone.ClientID), []string{"Authorization", basic(good.ClientID, good.ClientSecret)}, ""},
		{"secret by basic and form", form("grant_type", "client_credentials", "client_secret", good.ClientSecret), []string{"Authorization", basic(good.ClientID, good.ClientSecret)}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assertOAuthError(t, postToken(t, srv, c.body, c.header...), http.StatusUnauthorized, "invalid_client")
		})
	}
	reasons := map[string]int{}
	for _, ev := range e.AuditEvents("auth.client.failed") {
		reasons[ev["details"].(map[string]any)["reason"].(string)]++
	}
	if reasons["wrong_secret"] != 3 || reasons["account_disabled"] != 1 || reasons["unknown_client"] != 2 {
		t.Errorf("auth.client.failed reasons %v", reasons)
	}
	audit := e.Must("", "audit", "list", "--limit", "1000")
	for _, secret := range []string{good.ClientSecret, gone.ClientSecret} {
		if strings.Contains(audit, secret) {
			t.Fatal("a client secret is in the audit trail")
		}
	}
	if logs := srv.Logs.String(); strings.Contains(logs, good.ClientSecret) {
		t.Fatal("a client secret is in the server log")
	}
}

func TestOAuthToken_RotatedSecretReplacesTheOldOne(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	old := e.NewService("etl", "Viewer")
	srv := e.Serve()
	var rotated testkit.Credentials
	if err := json.Unmarshal([]byte(e.Must("", "service", "rotate-secret", "etl", "--output", "json")), &rotated); err != nil {
		t.Fatal(err)
	}
	if rotated.ClientID != old.ClientID || rotated.ClientSecret == old.ClientSecret || len(rotated.ClientSecret) != 43 {
		t.Fatalf("rotate-secret gave %+v for %+v", rotated, old)
	}
	grant := form("grant_type", "client_credentials")
	assertOAuthError(t, postToken(t, srv, grant, "Authorization", basic(old.ClientID, old.ClientSecret)), http.StatusUnauthorized, "invalid_client")
	if r := postToken(t, srv, grant, "Authorization", basic(rotated.ClientID, rotated.ClientSecret)); r.Status != http.StatusOK {
		t.Fatalf("new secret: %d %s", r.Status, r.Body)
	}
	text := e.Must("", "service", "rotate-secret", "etl")
	if !strings.Contains(text, "client_secret: ") || !strings.Contains(text, old.ClientID) {
		t.Errorf("rotate-secret printed %q", text)
	}
	if n := len(e.AuditEvents("service_account.secret.rotated")); n != 2 {
		t.Errorf("%d service_account.secret.rotated events, want 2", n)
	}
}

func TestOAuthToken_RequestErrors(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	creds := e.NewService("svc")
	srv := e.Serve()
	auth := []string{"Authorization", basic(creds.ClientID, creds.ClientSecret)}
	cases := []struct {
		name, body, contentType string
		status                  int
		code                    string
	}{
		{"no grant_type", form("scope", "x"), "", 400, "invalid_request"},
		{"unknown grant", form("grant_type", "authorization_code", "code", "x"), "", 400, "unsupported_grant_type"},
		{"password grant is off by default", form("grant_type", "password", "username", "alice", "password", alicePassword), "", 400, "unsupported_grant_type"},
		{"JSON body", `{"grant_type":"client_credentials"}`, "application/json", 400, "invalid_request"},
		{"repeated parameter", "grant_type=client_credentials&grant_type=client_credentials", "", 400, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ct := c.contentType
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			r := srv.Do(t, http.MethodPost, tokenPath, c.body, append([]string{"Content-Type", ct}, auth...)...)
			assertOAuthError(t, r, c.status, c.code)
		})
	}
	d := srv.Do(t, http.MethodGet, "/.well-known/openid-configuration", "").JSON(t)
	if d["token_endpoint"] != srv.URL+tokenPath {
		t.Errorf("token_endpoint %v", d["token_endpoint"])
	}
	testkit.WantStrings(t, "grant_types_supported", d["grant_types_supported"], "client_credentials", "refresh_token")
	testkit.WantStrings(t, "token_endpoint_auth_methods_supported", d["token_endpoint_auth_methods_supported"], "client_secret_basic", "client_secret_post", "none")
}

func TestOAuthToken_PasswordGrantWhenEnabledChecksLikeLogin(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Viewer")
	srv := e.Serve("--allow-password-grant=true")
	r := postToken(t, srv, form("grant_type", "password", "username", "alice", "password", alicePassword))
	if r.Status != http.StatusOK {
		t.Fatalf("password grant: %d %s", r.Status, r.Body)
	}
	c := srv.Claims(t, r.JSON(t)["access_token"].(string))
	if c["type"] != "user" || c["username"] != "alice" {
		t.Errorf("claims %v, want alice's user token", c)
	}
	assertOAuthError(t, postToken(t, srv, form("grant_type", "password", "username", "alice", "password", "wrong password!")), http.StatusBadRequest, "invalid_grant")
	assertOAuthError(t, postToken(t, srv, form("grant_type", "password", "username", "alice")), http.StatusBadRequest, "invalid_request")
	if n := len(e.AuditEvents("auth.login.succeeded")); n != 1 {
		t.Errorf("%d auth.login.succeeded events, want 1", n)
	}
	if n := len(e.AuditEvents("auth.login.failed")); n != 1 {
		t.Errorf("%d auth.login.failed events, want 1", n)
	}
	d := srv.Do(t, http.MethodGet, "/.well-known/openid-configuration", "").JSON(t)
	testkit.WantStrings(t, "grant_types_supported", d["grant_types_supported"], "client_credentials", "refresh_token", "password")
}

// A service token is decided by the SDK from the bundle like a user's,
// and disabling the account reaches the SDK at its next bundle poll.
func TestOAuthToken_ServiceTokenDecidedBySDKUntilDisabled(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	creds := e.NewService("inventory-sync", "Analyst")
	srv := e.Serve()
	cfg := clientcredentials.Config{ClientID: creds.ClientID, ClientSecret: creds.ClientSecret, TokenURL: srv.URL + tokenPath}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	authz := testkit.ReadyAuthorizer(t, srv.URL)
	ctx := context.Background()
	if !authz.HasPermission(ctx, tok.AccessToken, "inventory.read") || authz.HasPermission(ctx, tok.AccessToken, "inventory.write") {
		t.Fatal("the SDK does not decide the service token by its Analyst role")
	}
	p, err := authz.Principal(ctx, tok.AccessToken)
	if err != nil || p.Type != "service" || p.Username != "inventory-sync" || p.Subject != creds.ClientID {
		t.Fatalf("principal %+v, %v", p, err)
	}

	e.Must("", "service", "disable", "inventory-sync")
	testkit.Eventually(t, 15*time.Second, "the disabled account's token is denied", func() bool {
		return !authz.HasPermission(ctx, tok.AccessToken, "inventory.read")
	})
	if _, err := cfg.Token(ctx); err == nil {
		t.Fatal("a disabled account got a token")
	}
	ev := e.AuditEvents("service_account.disabled")
	if len(ev) != 1 || ev[0]["target"] != "service_account:"+creds.ClientID {
		t.Errorf("service_account.disabled events %v", ev)
	}
}

// With IAM_CLIENT_SECRET_PEPPER set, the CLI and the server must agree on
// it; a secret hashed under another pepper fails, and the audit says why.
func TestOAuthToken_ConfiguredPepperMustMatch(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	pepper := strings.Repeat("p", 32)
	var creds testkit.Credentials
	if err := json.Unmarshal([]byte(e.Must("", "--client-secret-pepper", pepper, "service", "create", "peppered", "--output", "json")), &creds); err != nil {
		t.Fatal(err)
	}
	grant := form("grant_type", "client_credentials")
	same := e.Serve("--client-secret-pepper", pepper)
	if r := postToken(t, same, grant, "Authorization", basic(creds.ClientID, creds.ClientSecret)); r.Status != http.StatusOK {
		t.Fatalf("same pepper: %d %s", r.Status, r.Body)
	}
	other := e.Serve()
	assertOAuthError(t, postToken(t, other, grant, "Authorization", basic(creds.ClientID, creds.ClientSecret)), http.StatusUnauthorized, "invalid_client")
	ev := e.AuditEvents("auth.client.failed")
	if len(ev) != 1 || ev[0]["details"].(map[string]any)["reason"] != "secret_hashed_with_another_pepper" {
		t.Errorf("auth.client.failed events %v", ev)
	}
}
