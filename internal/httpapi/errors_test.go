package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gaia-platform/iam/internal/testkit"
)

// The error answers of request decoding, through a real server on
// PostgreSQL: a body over the limit, a JSON body of the wrong shape, and
// HTTP Basic client credentials that cannot be read.

const (
	bodyLimit       = 64 << 10
	errorsPassword  = "correct horse battery"
	formContentType = "application/x-www-form-urlencoded"
)

// errorsIAM is an installation with the example roles, alice (a Viewer),
// a superuser root and a service account, served with the password grant.
func errorsIAM(t *testing.T) (*testkit.IAM, *testkit.Server, serviceCredentials) {
	t.Helper()
	e := testkit.NewIAM(t)
	e.WithUser("alice", errorsPassword, "Viewer")
	e.Must(rootPassword+"\n", "createsuperuser", "--username", "root", "--password-stdin")
	var creds serviceCredentials
	if out := e.Must("", "service", "create", "web", "--output", "json"); json.Unmarshal([]byte(out), &creds) != nil || creds.ClientSecret == "" {
		t.Fatalf("service create --output json printed %q", out)
	}
	return e, e.Serve("--allow-password-grant=true"), creds
}

type serviceCredentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// assertProblem checks an error answer's status, code and message; an
// /oauth/ answer's error_description must be the same message.
func assertProblem(t *testing.T, r testkit.Response, status int, code, message string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	m := r.JSON(t)
	if m["error"] != code || m["message"] != message {
		t.Fatalf("body %s, want error %q with message %q", r.Body, code, message)
	}
	if desc, ok := m["error_description"]; ok && desc != message {
		t.Fatalf("error_description %q differs from message %q", desc, message)
	}
}

// paddedJSON is body, a JSON object, padded with an unknown field to exactly
// size bytes.
func paddedJSON(body string, size int) string {
	prefix := strings.TrimSuffix(body, "}") + `,"pad":"`
	return prefix + strings.Repeat("x", size-len(prefix)-2) + `"}`
}

// paddedForm is form padded with an unknown parameter to exactly size
// bytes.
func paddedForm(form string, size int) string {
	prefix := form + "&pad="
	return prefix + strings.Repeat("x", size-len(prefix))
}

const tooLargeMessage = "request body is larger than 64 KiB"

func TestBodyLimit_OverTheLimitIs413BeforeAnythingIsCheckedCountedOrAudited(t *testing.T) {
	t.Parallel()
	e, srv, creds := errorsIAM(t)
	root := srv.Token(t, "root", rootPassword)
	refresh, _ := srv.Login(t, "alice", errorsPassword).JSON(t)["refresh_token"].(string)
	loginsBefore := len(e.AuditEvents("auth.login.failed")) + len(e.AuditEvents("auth.login.succeeded"))
	over := bodyLimit + 1
	jsonType := []string{"Content-Type", "application/json"}
	formType := []string{"Content-Type", formContentType}
	bearer := append([]string{"Authorization", "Bearer " + root}, jsonType...)
	for name, req := range map[string]struct {
		path, body string
		header     []string
	}{
		"login":           {"/auth/login", paddedJSON(`{"username":"alice","password":"wrong"}`, over), jsonType},
		"refresh":         {"/auth/refresh", paddedJSON(`{"refresh_token":"`+refresh+`"}`, over), jsonType},
		"admin body":      {"/admin/v1/users", paddedJSON(`{"username":"bob","password":"`+errorsPassword+`"}`, over), bearer},
		"password grant":  {"/oauth/token", paddedForm("grant_type=password&username=alice&password=wrong", over), formType},
		"client grant":    {"/oauth/token", paddedForm(url.Values{"grant_type": {"client_credentials"}, "client_id": {creds.ClientID}, "client_secret": {"wrong"}}.Encode(), over), formType},
		"refresh grant":   {"/oauth/token", paddedForm("grant_type=refresh_token&refresh_token="+refresh, over), formType},
		"revoke":          {"/oauth/revoke", paddedForm("token="+refresh, over), formType},
		"far over (form)": {"/oauth/token", paddedForm("grant_type=password&username=alice&password=wrong", 4*bodyLimit), formType},
		"far over (JSON)": {"/auth/login", paddedJSON(`{"username":"alice","password":"wrong"}`, 4*bodyLimit), jsonType},
	} {
		t.Run(name, func(t *testing.T) {
			assertProblem(t, srv.Do(t, http.MethodPost, req.path, req.body, req.header...), http.StatusRequestEntityTooLarge, "request_too_large", tooLargeMessage)
		})
	}
	if n := len(e.AuditEvents("auth.login.failed")) + len(e.AuditEvents("auth.login.succeeded")) - loginsBefore; n != 0 {
		t.Errorf("refused bodies wrote %d login events", n)
	}
	if n := len(e.AuditEvents("auth.client.failed")); n != 0 {
		t.Errorf("refused bodies wrote %d auth.client.failed events", n)
	}
	if r := srv.Do(t, http.MethodGet, "/admin/v1/users/bob", "", "Authorization", "Bearer "+root); r.Status != http.StatusNotFound {
		t.Errorf("GET bob after a refused create: %d %s, want 404", r.Status, r.Body)
	}
	// The refresh token was neither spent nor revoked.
	if r := srv.Do(t, http.MethodPost, "/auth/refresh", `{"refresh_token":"`+refresh+`"}`, jsonType...); r.Status != http.StatusOK {
		t.Errorf("refresh after refused bodies: %d %s", r.Status, r.Body)
	}
}

func TestBodyLimit_ABodyOfExactlyTheLimitIsRead(t *testing.T) {
	t.Parallel()
	_, srv, _ := errorsIAM(t)
	r := srv.Do(t, http.MethodPost, "/auth/login", paddedJSON(`{"username":"alice","password":"wrong"}`, bodyLimit), "Content-Type", "application/json")
	testkit.AssertError(t, r, http.StatusUnauthorized, "invalid_credentials")
	r = srv.Do(t, http.MethodPost, "/oauth/token", paddedForm("grant_type=password&username=alice&password=wrong", bodyLimit), "Content-Type", formContentType)
	assertProblem(t, r, http.StatusBadRequest, "invalid_grant", "invalid username or password")
}

func TestJSONErrors_NameTheFieldAndTheJSONTypeNeverAGoType(t *testing.T) {
	t.Parallel()
	_, srv, _ := errorsIAM(t)
	root := srv.Token(t, "root", rootPassword)
	for _, tc := range []struct {
		method, path, body, want string
	}{
		{"POST", "/auth/login", `["alice"]`, "request body must be a JSON object"},
		{"POST", "/auth/login", `"alice"`, "request body must be a JSON object"},
		{"POST", "/auth/login", `5`, "request body must be a JSON object"},
		{"POST", "/auth/login", ``, "request body is empty: it must be a JSON object"},
		{"POST", "/auth/login", " \n", "request body is empty: it must be a JSON object"},
		{"POST", "/auth/login", `{"username":`, "request body must be a JSON object: malformed JSON"},
		{"POST", "/auth/login", `{"username":5,"password":"x"}`, `field "username" must be a string`},
		{"POST", "/auth/login", `{"username":"alice","password":["x"]}`, `field "password" must be a string`},
		{"POST", "/auth/login", `{"username":"alice","password":true}`, `field "password" must be a string`},
		{"POST", "/auth/refresh", `{"refresh_token":{}}`, `field "refresh_token" must be a string`},
		{"POST", "/admin/v1/users", `{"username":"bob","password":"x","roles":"Viewer"}`, `field "roles" must be an array of strings`},
		{"POST", "/admin/v1/users", `{"username":"bob","password":"x","roles":[1]}`, `field "roles" must be an array of strings`},
		{"POST", "/admin/v1/users", `{"username":"bob","password":"x","roles":{}}`, `field "roles" must be an array of strings`},
		{"POST", "/admin/v1/users", `[{"username":"bob"}]`, "request body must be a JSON object"},
		{"PATCH", "/admin/v1/roles/Viewer", `{"description":false}`, `field "description" must be a string`},
		{"POST", "/admin/v1/service-accounts", `{"name":["web"]}`, `field "name" must be a string`},
		{"POST", "/admin/v1/revocations", `{"jti":"x","expires_at":"tomorrow"}`, "times must be RFC 3339 strings such as 2026-01-02T15:04:05Z"},
		{"POST", "/admin/v1/revocations", `{"jti":"x","expires_at":5}`, "a field of the request body has the wrong type or form"},
	} {
		t.Run(tc.method+" "+tc.path+" "+tc.body, func(t *testing.T) {
			h := []string{"Content-Type", "application/json"}
			if strings.HasPrefix(tc.path, "/admin/") {
				h = append(h, "Authorization", "Bearer "+root)
			}
			assertProblem(t, srv.Do(t, tc.method, tc.path, tc.body, h...), http.StatusBadRequest, "invalid_request", tc.want)
		})
	}
}

func TestOAuthBasic_UnreadableCredentialsSayWhatIsWrong(t *testing.T) {
	t.Parallel()
	_, srv, creds := errorsIAM(t)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := map[string]string{
		"Basic !!!!":                  "the Basic credentials are not base64",
		"Basic " + b64("a:b") + "=":   "the Basic credentials are not base64",
		"Basic " + b64("no-colon"):    "the Basic credentials must be client_id:client_secret",
		"Basic":                       "the Basic credentials must be client_id:client_secret",
		"Basic " + b64("a%zz:b"):      "the Basic client_id and client_secret must be form-urlencoded (RFC 6749 §2.3.1)",
		"Basic " + b64("a:%"):         "the Basic client_id and client_secret must be form-urlencoded (RFC 6749 §2.3.1)",
		"Bearer x":                    "unsupported Authorization scheme: use HTTP Basic",
		"Digest username=\"a\"":       "unsupported Authorization scheme: use HTTP Basic",
		"Basicx " + b64("a:b"):        "unsupported Authorization scheme: use HTTP Basic",
		"bAsIc " + b64("no-colon-ci"): "the Basic credentials must be client_id:client_secret",
	}
	for _, endpoint := range []struct{ path, form string }{
		{"/oauth/token", "grant_type=client_credentials"},
		{"/oauth/token", "grant_type=refresh_token&refresh_token=x"},
		{"/oauth/revoke", "token=x"},
	} {
		for authorization, want := range cases {
			t.Run(endpoint.path+" "+endpoint.form+" "+authorization, func(t *testing.T) {
				r := srv.Do(t, http.MethodPost, endpoint.path, endpoint.form, "Content-Type", formContentType, "Authorization", authorization)
				assertProblem(t, r, http.StatusUnauthorized, "invalid_client", want)
				if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic ") {
					t.Errorf("WWW-Authenticate %q, want Basic", r.Header.Get("WWW-Authenticate"))
				}
			})
		}
	}

	// RFC 6749 §2.3.1: the id and secret are form-urlencoded inside
	// Basic, so every byte may be escaped.
	escapeAll := func(s string) string {
		var b strings.Builder
		for i := range len(s) {
			fmt.Fprintf(&b, "%%%02X", s[i])
		}
		return b.String()
	}
	escaped := "Basic " + b64(escapeAll(creds.ClientID)+":"+escapeAll(creds.ClientSecret))
	r := srv.Do(t, http.MethodPost, "/oauth/token", "grant_type=client_credentials", "Content-Type", formContentType, "Authorization", escaped)
	if tok, _ := r.JSON(t)["access_token"].(string); r.Status != http.StatusOK || tok == "" {
		t.Fatalf("client credentials escaped in Basic: %d %s", r.Status, r.Body)
	}
	if r := srv.Do(t, http.MethodPost, "/oauth/revoke", "token=x", "Content-Type", formContentType, "Authorization", escaped); r.Status != http.StatusOK {
		t.Fatalf("revocation with client credentials escaped in Basic: %d %s", r.Status, r.Body)
	}
}
