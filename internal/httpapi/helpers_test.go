package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"

	"github.com/gaia-platform/iam/internal/testkit"
)

// The helpers of more than one of this package's end-to-end tests, which
// run the iam command (testkit.IAM) and call its server over HTTP. The
// ones internal/cli's tests share with these are in internal/testkit.

const (
	alicePassword = "correct horse battery staple"
	rootPassword  = "admin passphrase of some length"
	tokenPath     = "/oauth/token"
)

// adminIAM is an installation with the example roles, a superuser root
// and alice, an Analyst, served.
func adminIAM(t *testing.T) (*testkit.IAM, *testkit.Server) {
	t.Helper()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	e.Must(rootPassword+"\n", "createsuperuser", "--username", "root", "--password-stdin")
	return e, e.Serve()
}

// form encodes name/value pairs as a form body.
func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

// basic is the HTTP Basic Authorization header of a client's credentials.
func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// postToken posts a form to /oauth/token with header name/value pairs.
func postToken(t *testing.T, srv *testkit.Server, body string, header ...string) testkit.Response {
	t.Helper()
	return srv.Do(t, http.MethodPost, tokenPath, body, append([]string{"Content-Type", "application/x-www-form-urlencoded"}, header...)...)
}

// assertOAuthError checks an RFC 6749 §5.2 error: status, error code, and
// error_description equal to message, so both conventions hold.
func assertOAuthError(t *testing.T, r testkit.Response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	m := r.JSON(t)
	desc, _ := m["error_description"].(string)
	if m["error"] != code || desc == "" || m["message"] != desc || len(m) != 3 {
		t.Fatalf("body %s, want error %q with error_description and the same message", r.Body, code)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	wwwAuth := r.Header.Get("WWW-Authenticate")
	if code == "invalid_client" && !strings.HasPrefix(wwwAuth, "Basic ") {
		t.Errorf("invalid_client with WWW-Authenticate %q, want Basic", wwwAuth)
	}
}

// refreshGrant presents a refresh token to /oauth/token's refresh grant.
func refreshGrant(t *testing.T, srv *testkit.Server, refresh string) testkit.Response {
	t.Helper()
	return postToken(t, srv, form("grant_type", "refresh_token", "refresh_token", refresh))
}

// str is v if it is a string, else "".
func str(v any) string { s, _ := v.(string); return s }

// revocations is one kind ("jti" or "subjects") of a bundle's revocations.
func revocations(b opabundle.Bundle, kind string) map[string]any {
	return b.Data["gaia"].(map[string]any)["revocations"].(map[string]any)[kind].(map[string]any)
}

// claimsOf reads a JWT's payload without verifying it.
func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
