package testkit

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// The calls of the IAM's HTTP API and the checks of its answers that the
// end-to-end tests of more than one package make: the HTTP API's own
// (internal/httpapi) and the CLI's (internal/cli), whose commands are
// checked against what a server then answers.

// Credentials are a service account's, as `iam service create --output
// json` prints them.
type Credentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// NewService creates a service account with roles and returns its
// credentials, failing unless the command prints exactly those.
func (e *IAM) NewService(name string, roles ...string) Credentials {
	e.t.Helper()
	args := []string{"service", "create", name, "--output", "json"}
	for _, r := range roles {
		args = append(args, "--role", r)
	}
	var c Credentials
	out := e.Must("", args...)
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		e.t.Fatalf("service create --output json printed %q: %v", out, err)
	}
	var m map[string]any
	_ = json.Unmarshal([]byte(out), &m)
	if len(m) != 2 || c.ClientID == "" || c.ClientSecret == "" {
		e.t.Fatalf("service create --output json printed %q, want exactly client_id and client_secret", out)
	}
	return c
}

// ServiceToken gets a client-credentials access token for c, sent by
// HTTP Basic authentication.
func (s *Server) ServiceToken(t testing.TB, c Credentials) string {
	t.Helper()
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ClientID) + ":" + url.QueryEscape(c.ClientSecret)))
	r := s.Do(t, http.MethodPost, "/oauth/token", url.Values{"grant_type": {"client_credentials"}}.Encode(),
		"Content-Type", "application/x-www-form-urlencoded", "Authorization", "Basic "+basic)
	if r.Status != http.StatusOK {
		t.Fatalf("client credentials: %d %s", r.Status, r.Body)
	}
	tok, _ := r.JSON(t)["access_token"].(string)
	return tok
}

// Claims reads a token's claims back through /auth/me, failing unless the
// server accepts the token.
func (s *Server) Claims(t testing.TB, token string) map[string]any {
	t.Helper()
	r := s.Me(t, token)
	if r.Status != http.StatusOK {
		t.Fatalf("/auth/me: %d %s", r.Status, r.Body)
	}
	return r.JSON(t)["claims"].(map[string]any)
}

// Pair is a login's or a refresh's answer: an access and a refresh token.
type Pair struct {
	Access, Refresh string
}

// LoginPair logs in and returns the token pair, failing unless login
// succeeds.
func (s *Server) LoginPair(t testing.TB, username, password string) Pair {
	t.Helper()
	r := s.Login(t, username, password)
	if r.Status != http.StatusOK {
		t.Fatalf("login %s: %d %s", username, r.Status, r.Body)
	}
	return PairOf(t, r)
}

// PairOf reads the token pair of an answer, failing unless it has both.
func PairOf(t testing.TB, r Response) Pair {
	t.Helper()
	m := r.JSON(t)
	access, _ := m["access_token"].(string)
	refresh, _ := m["refresh_token"].(string)
	p := Pair{Access: access, Refresh: refresh}
	if p.Access == "" || p.Refresh == "" {
		t.Fatalf("answer lacks a token pair: %s", r.Body)
	}
	return p
}

// Refresh posts a refresh token to /auth/refresh.
func (s *Server) Refresh(t testing.TB, refresh string) Response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"refresh_token": refresh})
	return s.Do(t, http.MethodPost, "/auth/refresh", string(body), "Content-Type", "application/json")
}

// MustRefresh is Refresh, failing unless it succeeds, returning the new
// pair.
func (s *Server) MustRefresh(t testing.TB, refresh string) Pair {
	t.Helper()
	r := s.Refresh(t, refresh)
	if r.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.Status, r.Body)
	}
	return PairOf(t, r)
}

// Sessions lists the sessions of access's user from /auth/sessions,
// newest first.
func (s *Server) Sessions(t testing.TB, access string) []map[string]any {
	t.Helper()
	r := s.Do(t, http.MethodGet, "/auth/sessions", "", "Authorization", "Bearer "+access)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /auth/sessions: %d %s", r.Status, r.Body)
	}
	var body struct {
		Sessions []map[string]any `json:"sessions"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	return body.Sessions
}

// OldestSession is the id of the first of access's user's sessions, which
// are listed newest first, failing unless it is one of ids (as another
// listing, the admin API's or the CLI's, gave them).
func (s *Server) OldestSession(t testing.TB, access string, ids []string) string {
	t.Helper()
	sessions := s.Sessions(t, access)
	oldest, _ := sessions[len(sessions)-1]["id"].(string)
	if !slices.Contains(ids, oldest) {
		t.Fatalf("session %s not among %q", oldest, ids)
	}
	return oldest
}

// Admin sends an admin API request (path below /admin/v1) with token;
// body, when not empty, as JSON.
func (s *Server) Admin(t testing.TB, token, method, path, body string) Response {
	t.Helper()
	h := []string{"Authorization", "Bearer " + token}
	if body != "" {
		h = append(h, "Content-Type", "application/json")
	}
	return s.Do(t, method, "/admin/v1"+path, body, h...)
}

// MustAdmin is Admin, failing the test unless the status is want.
func (s *Server) MustAdmin(t testing.TB, token, method, path, body string, want int) Response {
	t.Helper()
	r := s.Admin(t, token, method, path, body)
	if r.Status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, r.Status, r.Body, want)
	}
	return r
}

// LoginFrom posts a login with header name/value pairs (X-Forwarded-For).
func (s *Server) LoginFrom(t testing.TB, username, password string, header ...string) Response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	return s.Do(t, http.MethodPost, "/auth/login", string(body), append([]string{"Content-Type", "application/json"}, header...)...)
}

// FailLogins makes n failed logins of username, each answered 401.
func (s *Server) FailLogins(t testing.TB, n int, username string, header ...string) {
	t.Helper()
	for range n {
		AssertError(t, s.LoginFrom(t, username, "not the password!", header...), http.StatusUnauthorized, "invalid_credentials")
	}
}

// AssertThrottled checks a 429 with the throttled body and a Retry-After
// of want.
func AssertThrottled(t testing.TB, r Response, want time.Duration) {
	t.Helper()
	AssertError(t, r, http.StatusTooManyRequests, "too_many_attempts")
	if ra, want := r.Header.Get("Retry-After"), strconv.Itoa(int(want/time.Second)); ra != want {
		t.Fatalf("Retry-After %q, want %s", ra, want)
	}
}

// AssertStrings checks that got, a decoded JSON value, is an array of
// exactly want, in order, and stops the test otherwise.
func AssertStrings(t testing.TB, what string, got any, want ...string) {
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

// WantStrings checks that got, a JSON array, holds exactly want, in order;
// unlike AssertStrings the test goes on when it does not.
func WantStrings(t testing.TB, what string, got any, want ...string) {
	t.Helper()
	var s []string
	for _, v := range got.([]any) {
		s = append(s, v.(string))
	}
	if !slices.Equal(s, want) {
		t.Errorf("%s %q, want %q", what, s, want)
	}
}

// WriteFile writes content to a file name in t's temporary directory and
// returns its path.
func WriteFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
