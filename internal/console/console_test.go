package console_test

import (
	"html/template"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/testkit"
)

const (
	adminPassword = "console-admin-pw-1"
	userPassword  = "console-user-pw-22"
)

// form is a browser's session with the console over plain HTTP: a cookie
// jar, no redirects followed, and a same-origin Origin on every post
// unless the test says otherwise.
type form struct {
	t      *testing.T
	base   string
	client *http.Client
}

func newForm(t *testing.T, s *testkit.Server) *form {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &form{t: t, base: s.URL, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	Status int
	Header http.Header
	Body   string
}

func (f *form) do(method, path string, values url.Values, header ...string) page {
	f.t.Helper()
	req, err := http.NewRequest(method, f.base+path, strings.NewReader(values.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return page{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

func (f *form) get(path string) page { f.t.Helper(); return f.do(http.MethodGet, path, nil) }

// post sends values as a console page would: same origin, with the CSRF
// token of the session unless values carry one.
func (f *form) post(path string, values url.Values, header ...string) page {
	f.t.Helper()
	return f.do(http.MethodPost, path, values, append([]string{"Origin", f.base}, header...)...)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// csrf is the CSRF token of the forms on path.
func (f *form) csrf(path string) string {
	f.t.Helper()
	p := f.get(path)
	m := csrfField.FindStringSubmatch(p.Body)
	if m == nil {
		f.t.Fatalf("GET %s (%d) has no CSRF field: %s", path, p.Status, p.Body)
	}
	return m[1]
}

func (f *form) login(username, password string) page {
	f.t.Helper()
	return f.post("/console/login", url.Values{"username": {username}, "password": {password}})
}

func (f *form) mustLogin(username, password string) {
	f.t.Helper()
	if p := f.login(username, password); p.Status != http.StatusSeeOther {
		f.t.Fatalf("console login %s: %d %s", username, p.Status, p.Body)
	}
}

func wantStatus(t *testing.T, what string, p page, status int) {
	t.Helper()
	if p.Status != status {
		t.Fatalf("%s: status %d, want %d: %.600s", what, p.Status, status, p.Body)
	}
}

func wantRedirect(t *testing.T, what string, p page, prefix string) {
	t.Helper()
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), prefix) {
		t.Fatalf("%s: %d to %q, want 303 to %s…: %.300s", what, p.Status, p.Header.Get("Location"), prefix, p.Body)
	}
}

// installation is an IAM with the example roles, a superuser "root" and a
// plain user "carol" holding the example's Analyst role, served.
func installation(t *testing.T, extra ...string) (*testkit.IAM, *testkit.Server) {
	t.Helper()
	e := testkit.NewIAM(t)
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	e.Must(adminPassword+"\n", "createsuperuser", "--username", "root", "--password-stdin")
	e.Must(userPassword+"\n", "user", "create", "carol", "--password-stdin", "--role", "Analyst")
	return e, e.Serve(extra...)
}

func userExists(e *testkit.IAM, name string) bool {
	return e.Run("", "user", "describe", name).Code == 0
}

func TestConsole_LoginSetsAHardenedSessionCookieAndPolicyHeaders(t *testing.T) {
	_, s := installation(t)
	f := newForm(t, s)
	p := f.get("/console/users")
	wantRedirect(t, "a page before login", p, "/console/login")
	login := f.get("/console/login")
	wantStatus(t, "login page", login, http.StatusOK)
	csp := login.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-") {
		t.Errorf("CSP %q allows something unsafe", csp)
	}
	if strings.Contains(login.Body, "<script>") || strings.Contains(login.Body, " on") && regexp.MustCompile(`\son[a-z]+=`).MatchString(login.Body) {
		t.Errorf("login page has inline script: %s", login.Body)
	}

	p = f.login("root", adminPassword)
	wantRedirect(t, "login", p, "/console/")
	cookies := p.Header.Values("Set-Cookie")
	if len(cookies) != 1 {
		t.Fatalf("Set-Cookie %q, want one session cookie", cookies)
	}
	c := cookies[0]
	for _, want := range []string{"gaia_console=", "Path=/console", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(c, want) {
			t.Errorf("session cookie %q lacks %s", c, want)
		}
	}
	if strings.Contains(c, "Secure") {
		t.Errorf("session cookie %q is Secure on an http public URL: the browser would drop it", c)
	}
	if value := strings.TrimPrefix(strings.SplitN(c, ";", 2)[0], "gaia_console="); len(value) < 43 {
		t.Errorf("session token %q is shorter than 32 random bytes", value)
	}
	wantStatus(t, "users page", f.get("/console/users"), http.StatusOK)
}

func TestConsole_SecureCookieWhenThePublicURLIsHTTPS(t *testing.T) {
	_, s := installation(t, "--public-url", "https://iam.example")
	f := newForm(t, s)
	// The posting page is the public origin (a TLS proxy in front).
	p := f.post("/console/login", url.Values{"username": {"root"}, "password": {adminPassword}}, "Origin", "https://iam.example")
	wantRedirect(t, "login through the public origin", p, "/console/")
	if c := p.Header.Get("Set-Cookie"); !strings.Contains(c, "; Secure") {
		t.Errorf("session cookie %q is not Secure behind an https public URL", c)
	}
}

func TestConsole_AFailedLoginLooksExactlyLikeAFailedAPILogin(t *testing.T) {
	e, s := installation(t)
	f := newForm(t, s)
	api := s.Login(t, "root", "wrong-password-1").JSON(t)["message"].(string)
	for _, name := range []string{"root", "nobody-here"} {
		p := f.login(name, "wrong-password-1")
		wantStatus(t, "wrong password for "+name, p, http.StatusUnauthorized)
		if !strings.Contains(p.Body, api) {
			t.Errorf("console login of %s does not say the API's %q: %s", name, api, p.Body)
		}
		if p.Header.Get("Set-Cookie") != "" {
			t.Errorf("a failed login set a cookie: %q", p.Header.Get("Set-Cookie"))
		}
	}
	// The throttle is the API's: failures through either door count.
	for range 3 {
		f.login("root", "wrong-password-1")
	}
	p := f.login("root", adminPassword)
	wantStatus(t, "the right password once the name is locked", p, http.StatusTooManyRequests)
	if p.Header.Get("Retry-After") == "" || !strings.Contains(p.Body, "too many failed logins") {
		t.Errorf("locked console login: Retry-After %q: %s", p.Header.Get("Retry-After"), p.Body)
	}
	testkit.AssertError(t, s.Login(t, "root", adminPassword), http.StatusTooManyRequests, "too_many_attempts")
	if n := len(e.AuditEvents("auth.login.failed")); n < 5 {
		t.Errorf("%d auth.login.failed events, want the API's event for every failed console login", n)
	}
}

func TestConsole_AStateChangeNeedsASameOriginBrowserAndTheSessionsCSRFToken(t *testing.T) {
	e, s := installation(t)
	f := newForm(t, s)
	f.mustLogin("root", adminPassword)
	token := f.csrf("/console/users")
	create := func(name, csrf string, header ...string) page {
		return f.post("/console/users", url.Values{"username": {name}, "password": {userPassword}, "csrf": {csrf}}, header...)
	}
	refusals := []struct {
		name   string
		csrf   string
		header []string
	}{
		{"no-origin", token, []string{"Origin", ""}},
		{"cross-origin", token, []string{"Origin", "http://evil.example"}},
		{"null-origin", token, []string{"Origin", "null"}},
		{"cross-site-fetch", token, []string{"Origin", "", "Sec-Fetch-Site", "cross-site"}},
		{"same-site-fetch", token, []string{"Origin", "", "Sec-Fetch-Site", "same-site"}},
		{"no-csrf", "", nil},
		{"wrong-csrf", strings.Repeat("0", len(token)), nil},
	}
	for _, r := range refusals {
		p := create("mallory-"+r.name, r.csrf, r.header...)
		wantStatus(t, r.name, p, http.StatusForbidden)
		if userExists(e, "mallory-"+r.name) {
			t.Errorf("%s: a refused request created the user", r.name)
		}
	}
	// Another session's CSRF token is no good in this one.
	other := newForm(t, s)
	other.mustLogin("root", adminPassword)
	wantStatus(t, "another session's CSRF token", create("mallory-other-session", other.csrf("/console/users")), http.StatusForbidden)
	if userExists(e, "mallory-other-session") {
		t.Error("a CSRF token of another session created the user")
	}

	p := create("dave", token)
	wantRedirect(t, "a console form post", p, "/console/users/")
	p = create("erin", token, "Origin", "", "Sec-Fetch-Site", "same-origin")
	wantRedirect(t, "a same-origin fetch without Origin", p, "/console/users/")
	if !userExists(e, "dave") || !userExists(e, "erin") {
		t.Fatal("the accepted posts did not create the users")
	}
}

func TestConsole_SessionsEndAtLogoutIdleTimeoutLifetimeAndWhenTheUserIsDisabled(t *testing.T) {
	e := testkit.NewIAM(t)
	e.Clock = testkit.NewClock()
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	e.Must(adminPassword+"\n", "createsuperuser", "--username", "root", "--password-stdin")
	e.Must(adminPassword+"\n", "createsuperuser", "--username", "rootsibling", "--password-stdin")
	s := e.Serve("--console-idle-timeout", "10m", "--console-session-lifetime", "1h")

	t.Run("logout", func(t *testing.T) {
		f := newForm(t, s)
		f.mustLogin("root", adminPassword)
		kept := newForm(t, s)
		kept.mustLogin("root", adminPassword)
		wantRedirect(t, "logout", f.post("/console/logout", url.Values{"csrf": {f.csrf("/console/users")}}), "/console/login")
		wantRedirect(t, "after logout", f.get("/console/users"), "/console/login")
		wantStatus(t, "another session of the same user", kept.get("/console/users"), http.StatusOK)
	})
	t.Run("idle timeout", func(t *testing.T) {
		f := newForm(t, s)
		f.mustLogin("root", adminPassword)
		for range 3 { // used every 9 minutes, it outlives the 10-minute idle timeout
			e.Clock.Advance(9 * time.Minute)
			wantStatus(t, "a page of a session in use", f.get("/console/users"), http.StatusOK)
		}
		e.Clock.Advance(10 * time.Minute)
		wantRedirect(t, "a page after 10 idle minutes", f.get("/console/users"), "/console/login")
	})
	t.Run("lifetime", func(t *testing.T) {
		f := newForm(t, s)
		f.mustLogin("root", adminPassword)
		for range 6 {
			e.Clock.Advance(9 * time.Minute)
			wantStatus(t, "a page within the lifetime", f.get("/console/users"), http.StatusOK)
		}
		e.Clock.Advance(7 * time.Minute) // 61 minutes after the login
		wantRedirect(t, "a page past the lifetime", f.get("/console/users"), "/console/login")
	})
	t.Run("disabled user", func(t *testing.T) {
		f := newForm(t, s)
		f.mustLogin("rootsibling", adminPassword)
		wantStatus(t, "before the disable", f.get("/console/users"), http.StatusOK)
		e.Must("", "user", "disable", "rootsibling")
		wantRedirect(t, "after the disable", f.get("/console/users"), "/console/login")
		e.Must("", "user", "enable", "rootsibling")
		wantRedirect(t, "after enabling again: the old session stays ended", f.get("/console/users"), "/console/login")
	})
}

func TestConsole_AnAccountWithoutTheAdminPermissionsIsRefusedEveryPage(t *testing.T) {
	e, s := installation(t)
	f := newForm(t, s)
	f.mustLogin("carol", userPassword)
	carol := e.UserID("carol")
	for _, path := range []string{"/console/", "/console/users", "/console/users/" + carol, "/console/roles", "/console/roles/Analyst",
		"/console/service-accounts", "/console/audit", "/console/decisions", "/console/keys"} {
		wantStatus(t, "GET "+path, f.get(path), http.StatusForbidden)
	}
	csrf := csrfField.FindStringSubmatch(f.get("/console/users").Body)[1] // the sign-out form's
	posts := map[string]url.Values{
		"/console/users":                     {"username": {"mallory"}, "password": {userPassword}},
		"/console/users/" + carol + "/roles": {"role": {"iam-admin"}},
		"/console/roles":                     {"name": {"mallory-role"}},
		"/console/service-accounts":          {"name": {"mallory-sa"}},
	}
	for path, v := range posts {
		v.Set("csrf", csrf)
		wantStatus(t, "POST "+path, f.post(path, v), http.StatusForbidden)
	}
	if userExists(e, "mallory") {
		t.Error("a refused account created a user")
	}
	if out := e.Must("", "user", "describe", "carol"); strings.Contains(out, "iam-admin") {
		t.Errorf("a refused account gave itself iam-admin: %s", out)
	}
}

func TestConsole_AnAuditorReadsTheTrailAndChangesNothing(t *testing.T) {
	e, s := installation(t)
	e.Must("", "role", "create", "auditor", "--description", "reads the audit trail")
	e.Must("", "role", "grant", "auditor", "iam.audit.read")
	e.Must(userPassword+"\n", "user", "create", "audrey", "--password-stdin", "--role", "auditor")
	f := newForm(t, s)
	f.mustLogin("audrey", userPassword)
	// The grant reaches the policy at the publisher's next poll.
	testkit.Eventually(t, 5*time.Second, "the auditor's home is the audit trail", func() bool {
		return f.get("/console/").Header.Get("Location") == "/console/audit"
	})
	for _, path := range []string{"/console/audit", "/console/decisions", "/console/keys"} {
		wantStatus(t, path, f.get(path), http.StatusOK)
	}
	for _, path := range []string{"/console/users", "/console/roles", "/console/service-accounts"} {
		wantStatus(t, path, f.get(path), http.StatusForbidden)
	}
	audit := f.get("/console/audit")
	if !strings.Contains(audit.Body, "The audit chain verifies") || !strings.Contains(audit.Body, "user.created") {
		t.Errorf("audit page lacks the chain status or the events: %s", audit.Body)
	}
}

func TestConsole_ARefusedFormShowsTheAPIsMessageNextToTheFieldAndChangesNothing(t *testing.T) {
	e, s := installation(t)
	admin := s.Token(t, "root", adminPassword)
	f := newForm(t, s)
	f.mustLogin("root", adminPassword)
	csrf := f.csrf("/console/users")
	for _, tc := range []struct {
		name, username, password, field string
		status                          int
	}{
		{"weak password", "frank", "short", "new-password-error", http.StatusBadRequest},
		{"taken username", "carol", userPassword, "new-username-error", http.StatusConflict},
		{"bad username", "has space", userPassword, "new-username-error", http.StatusBadRequest},
	} {
		body := `{"username":"` + tc.username + `","password":"` + tc.password + `"}`
		api := s.MustAdmin(t, admin, http.MethodPost, "/users", body, tc.status).JSON(t)["message"].(string)
		p := f.post("/console/users", url.Values{"username": {tc.username}, "password": {tc.password}, "csrf": {csrf}})
		wantStatus(t, tc.name, p, tc.status)
		next := regexp.MustCompile(`id="` + tc.field + `" role="alert">([^<]*)<`).FindStringSubmatch(p.Body)
		if next == nil || next[1] != template.HTMLEscapeString(api) {
			t.Errorf("%s: the field's error %q, want the API's %q", tc.name, next, api)
		}
		if !strings.Contains(p.Body, `value="`+template.HTMLEscapeString(tc.username)+`"`) {
			t.Errorf("%s: the form lost the username typed", tc.name)
		}
	}
	if userExists(e, "frank") {
		t.Error("a refused form created the user")
	}
}

func TestConsole_TheLoginSendsTheBrowserBackToAConsolePageOnly(t *testing.T) {
	_, s := installation(t)
	for next, want := range map[string]string{
		"/console/audit?action=user": "/console/audit?action=user",
		"//evil.example/console/":    "/console/",
		"https://evil.example/":      "/console/",
		"/console/\\evil.example":    "/console/",
		"":                           "/console/",
	} {
		f := newForm(t, s)
		p := f.post("/console/login", url.Values{"username": {"root"}, "password": {adminPassword}, "next": {next}})
		if got := p.Header.Get("Location"); p.Status != http.StatusSeeOther || got != want {
			t.Errorf("next=%q: %d to %q, want 303 to %q", next, p.Status, got, want)
		}
	}
}
