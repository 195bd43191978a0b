package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaia-platform/iam/internal/testkit"
)

// logLines decodes a server's JSON logs, failing on a line that is not
// a JSON object.
func logLines(t *testing.T, srv *testkit.Server) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(srv.Logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("a log line is not JSON: %v: %s", err, line)
		}
		lines = append(lines, m)
	}
	return lines
}

// requestLines are the server's "request" lines whose request_id is id.
func requestLines(t *testing.T, srv *testkit.Server, msg, id string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range logLines(t, srv) {
		if l["msg"] == msg && l["request_id"] == id {
			out = append(out, l)
		}
	}
	return out
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// A well-formed X-Request-Id is echoed and logged; a malformed one is
// replaced by a generated id, and never logged; a missing one is
// generated. Every answer carries it, errors included, and the one
// request line names the route template, the path, the status, the
// duration and the client.
func TestRequestLog_OneLinePerRequestWithItsEchoedID(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	srv := e.Serve()
	token := srv.Token(t, "alice", alicePassword)

	r := srv.Do(t, http.MethodGet, "/auth/me", "", "Authorization", "Bearer "+token, "X-Request-Id", "lb-7f3a.91_Z-x")
	if r.Status != http.StatusOK || r.Header.Get("X-Request-Id") != "lb-7f3a.91_Z-x" {
		t.Fatalf("well-formed id: %d, echoed %q", r.Status, r.Header.Get("X-Request-Id"))
	}
	testkit.Eventually(t, 5*time.Second, "the request line", func() bool { return len(requestLines(t, srv, "request", "lb-7f3a.91_Z-x")) == 1 })
	line := requestLines(t, srv, "request", "lb-7f3a.91_Z-x")[0]
	for k, want := range map[string]any{"level": "INFO", "method": "GET", "route": "/auth/me", "path": "/auth/me", "status": float64(200), "client_ip": "127.0.0.1"} {
		if line[k] != want {
			t.Errorf("request line %s = %v, want %v: %v", k, line[k], want, line)
		}
	}
	if d, ok := line["duration_ms"].(float64); !ok || d < 0 {
		t.Errorf("request line duration_ms = %v: %v", line["duration_ms"], line)
	}

	// The route is the template, the path what was asked for.
	r = srv.Do(t, http.MethodGet, "/admin/v1/users/alice", "", "Authorization", "Bearer "+token, "X-Request-Id", "route-check")
	testkit.Eventually(t, 5*time.Second, "the admin request line", func() bool { return len(requestLines(t, srv, "request", "route-check")) == 1 })
	if l := requestLines(t, srv, "request", "route-check")[0]; l["route"] != "/admin/v1/users/:id" || l["path"] != "/admin/v1/users/alice" || l["status"] != float64(r.Status) {
		t.Errorf("admin request line %v, want route /admin/v1/users/:id, path /admin/v1/users/alice, status %d", l, r.Status)
	}

	malformed := []string{"has space", strings.Repeat("a", 65), `quote"d`, "tok=abc", "ünïcode", "a/b", "x,y"}
	seen := map[string]bool{}
	for _, bad := range malformed {
		r := srv.Do(t, http.MethodGet, "/healthz", "", "X-Request-Id", bad)
		id := r.Header.Get("X-Request-Id")
		if !generatedID.MatchString(id) || seen[id] {
			t.Errorf("malformed id %q answered with %q, want a fresh generated id", bad, id)
		}
		seen[id] = true
	}
	missing := []string{}
	for _, path := range []string{"/healthz", "/no/such/route", "/auth/me"} {
		r := srv.Do(t, http.MethodGet, path, "")
		id := r.Header.Get("X-Request-Id")
		if !generatedID.MatchString(id) || seen[id] {
			t.Errorf("GET %s (%d) without an id answered with %q, want a fresh generated id", path, r.Status, id)
		}
		seen[id] = true
		missing = append(missing, id)
	}
	// Two ids in one request are not one well-formed id.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/healthz", nil)
	req.Header.Add("X-Request-Id", "first")
	req.Header.Add("X-Request-Id", "second")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if id := resp.Header.Get("X-Request-Id"); !generatedID.MatchString(id) {
		t.Errorf("two ids answered with %q, want a generated one", id)
	}

	testkit.Eventually(t, 5*time.Second, "every request line", func() bool {
		return len(requestLines(t, srv, "request", missing[2])) == 1
	})
	for id, want := range map[string]map[string]any{
		missing[0]: {"route": "/healthz", "status": float64(200)},
		missing[1]: {"route": "", "path": "/no/such/route", "status": float64(404)},
		missing[2]: {"route": "/auth/me", "status": float64(401)},
	} {
		lines := requestLines(t, srv, "request", id)
		if len(lines) != 1 {
			t.Errorf("%d request lines with id %s, want 1", len(lines), id)
			continue
		}
		for k, v := range want {
			if lines[0][k] != v {
				t.Errorf("request line %s = %v, want %v: %v", k, lines[0][k], v, lines[0])
			}
		}
	}
	logs := srv.Logs.String()
	for _, bad := range malformed {
		b, _ := json.Marshal(bad)
		if strings.Contains(logs, strings.Trim(string(b), `"`)) {
			t.Errorf("the malformed id %q reached the logs", bad)
		}
	}
}

// A request that fails on an unknown error logs "request failed" with the
// request's id, the id its answer echoes and its request line carries.
func TestRequestLog_AFailureLineCarriesTheRequestID(t *testing.T) {
	t.Parallel()
	e := testkit.NewPostgresIAM(t)
	e.Must(rootPassword+"\n", "createsuperuser", "--username", "root", "--password-stdin")
	srv := e.Serve()
	root := srv.Token(t, "root", rootPassword)
	conn, err := pgx.Connect(t.Context(), e.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	// Only the decision log listing reads this table.
	if _, err := conn.Exec(t.Context(), `ALTER TABLE decision_logs RENAME TO decision_logs_gone`); err != nil {
		t.Fatal(err)
	}
	r := srv.Do(t, http.MethodGet, "/admin/v1/decision-logs", "", "Authorization", "Bearer "+root, "X-Request-Id", "will-fail-1")
	testkit.AssertError(t, r, http.StatusInternalServerError, "internal_error")
	if r.Header.Get("X-Request-Id") != "will-fail-1" {
		t.Errorf("a 500 echoed X-Request-Id %q", r.Header.Get("X-Request-Id"))
	}
	testkit.Eventually(t, 5*time.Second, "the request line", func() bool { return len(requestLines(t, srv, "request", "will-fail-1")) == 1 })
	if failed := requestLines(t, srv, "request failed", "will-fail-1"); len(failed) != 1 || failed[0]["level"] != "ERROR" {
		t.Errorf("request failed lines with the request's id: %v, want one ERROR line\n%s", failed, srv.Logs)
	}
}

// A full run against iam serve on PostgreSQL with JSON logs — password
// login, refresh, logout, the password, refresh and client-credentials
// grants, the admin API creating a user with a password, setting a
// password and rotating a client secret, a password change and a console
// sign-in — logs none of the secrets it handled: passwords, refresh and
// access tokens, client secrets, the console session, the signing key.
func TestRequestLog_AFullRunLogsNoSecret(t *testing.T) {
	t.Parallel()
	e := testkit.NewPostgresIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	e.Must(rootPassword+"\n", "createsuperuser", "--username", "root", "--password-stdin")
	keyPEM, err := os.ReadFile(e.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := e.Serve("--allow-password-grant", "true")
	var secrets []string
	keep := func(s ...string) {
		for _, v := range s {
			if v == "" {
				t.Fatal("a secret the run should have handled is empty")
			}
			secrets = append(secrets, v)
		}
	}
	keep(alicePassword, rootPassword)

	// Users: login, refresh, the grants, a failed login, logout.
	first := srv.LoginPair(t, "alice", alicePassword)
	second := srv.MustRefresh(t, first.Refresh)
	keep(first.Access, first.Refresh, second.Access, second.Refresh)
	r := postToken(t, srv, form("grant_type", "refresh_token", "refresh_token", second.Refresh))
	third := testkit.PairOf(t, r)
	r = postToken(t, srv, form("grant_type", "password", "username", "alice", "password", alicePassword))
	fourth := testkit.PairOf(t, r)
	keep(third.Access, third.Refresh, fourth.Access, fourth.Refresh)
	wrong := "not-alices-password-at-all"
	keep(wrong)
	testkit.AssertError(t, srv.Login(t, "alice", wrong), http.StatusUnauthorized, "invalid_credentials")
	body, _ := json.Marshal(map[string]string{"refresh_token": third.Refresh})
	if r := srv.Do(t, http.MethodPost, "/auth/logout", string(body), "Authorization", "Bearer "+third.Access, "Content-Type", "application/json"); r.Status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	newAlice := "her brand new passphrase"
	keep(newAlice)
	body, _ = json.Marshal(map[string]string{"current_password": alicePassword, "new_password": newAlice})
	if r := srv.Do(t, http.MethodPost, "/auth/password", string(body), "Authorization", "Bearer "+fourth.Access, "Content-Type", "application/json"); r.Status != http.StatusOK {
		t.Fatalf("password change: %d %s", r.Status, r.Body)
	}

	// The admin API: a user with a password, a new password, a service
	// account, its secret rotated, client credentials with both secrets.
	root := srv.Token(t, "root", rootPassword)
	keep(root)
	bobPassword, bobNext := "a first passphrase of length", "a second passphrase of length"
	keep(bobPassword, bobNext)
	created := srv.MustAdmin(t, root, http.MethodPost, "/users", `{"username":"bob","password":"`+bobPassword+`","roles":["Viewer"]}`, http.StatusCreated).JSON(t)
	srv.MustAdmin(t, root, http.MethodPost, "/users/"+str(created["id"])+"/password", `{"password":"`+bobNext+`"}`, http.StatusNoContent)
	keep(srv.Token(t, "bob", bobNext))
	sa := srv.MustAdmin(t, root, http.MethodPost, "/service-accounts", `{"name":"billing-job","roles":["Viewer"]}`, http.StatusCreated).JSON(t)
	clientID, secret := str(sa["client_id"]), str(sa["client_secret"])
	keep(secret)
	svc := testkit.Credentials{ClientID: clientID, ClientSecret: secret}
	keep(srv.ServiceToken(t, svc))
	rotated := srv.MustAdmin(t, root, http.MethodPost, "/service-accounts/"+clientID+"/rotate-secret", "", http.StatusOK).JSON(t)
	svc.ClientSecret = str(rotated["client_secret"])
	keep(svc.ClientSecret)
	r = postToken(t, srv, form("grant_type", "client_credentials", "client_id", clientID, "client_secret", svc.ClientSecret))
	if r.Status != http.StatusOK {
		t.Fatalf("client credentials in the form: %d %s", r.Status, r.Body)
	}
	keep(str(r.JSON(t)["access_token"]))
	assertOAuthError(t, postToken(t, srv, form("grant_type", "client_credentials", "client_id", clientID, "client_secret", secret)), http.StatusUnauthorized, "invalid_client")

	// The console: sign in from the same origin, then open a page.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/console/login", strings.NewReader(url.Values{"username": {"root"}, "password": {rootPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", srv.URL)
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("console login: %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		keep(c.Value)
	}
	resp, err = browser.Get(srv.URL + "/console/users")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "bob") {
		t.Fatalf("console users page: %d", resp.StatusCode)
	}

	// The signing key: every line of its PEM body.
	for _, line := range strings.Split(string(keyPEM), "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
			keep(line)
		}
	}
	srv.Stop()
	lines := logLines(t, srv)
	if n := len(lines); n < 20 {
		t.Fatalf("only %d log lines: %s", n, srv.Logs)
	}
	logs := srv.Logs.String()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the logs hold a secret of the run (%d characters, starting %.4q)", len(s), s)
		}
		// A JWT's signature alone is as good as the token to a reader
		// comparing it; so is a refresh token's tail.
		if i := strings.LastIndex(s, "."); i > 0 && len(s)-i > 16 && strings.Contains(logs, s[i+1:]) {
			t.Errorf("the logs hold the signature of a token of the run")
		}
	}
	if strings.Contains(logs, "PRIVATE KEY") {
		t.Error("the logs hold a private key")
	}
}
