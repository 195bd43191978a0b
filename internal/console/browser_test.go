package console_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/gaia-platform/iam/internal/testkit"
)

// EnvScreenshots names the directory the browser tests save their
// screenshots in (`make screenshots` sets it to docs/console); unset, they
// are taken into the test's temporary directory and thrown away.
const EnvScreenshots = "GAIA_CONSOLE_SCREENSHOTS"

// chromium is the browser the tests drive: Debian's, or GAIA_CHROMIUM.
func chromium() string {
	if p := os.Getenv("GAIA_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// newBrowser starts a headless Chromium for t, closed when t ends. Under
// CI=true a browser that cannot start fails the test; elsewhere it skips.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	unavailable := t.Skipf
	if os.Getenv("CI") == "true" {
		unavailable = t.Fatalf
	}
	if _, err := os.Stat(chromium()); err != nil {
		unavailable("no browser for the console tests (%v): apt-get install chromium", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium()),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Run(ctx); err != nil {
		unavailable("chromium %s does not start: %v", chromium(), err)
	}
	return ctx
}

// incognito is another browser profile in the same browser: its own
// cookies, as another person's browser.
func incognito(t *testing.T, browser context.Context) context.Context {
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	return ctx
}

func run(t *testing.T, ctx context.Context, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		var where, body string
		_ = chromedp.Run(ctx, chromedp.Location(&where), chromedp.Text("body", &body, chromedp.ByQuery))
		t.Fatalf("browser: %v (at %s: %.800s)", err, where, body)
	}
}

// heading is the page's h1.
func heading(t *testing.T, ctx context.Context) string {
	t.Helper()
	var h string
	run(t, ctx, chromedp.Text("h1", &h, chromedp.ByQuery))
	return h
}

// submit clicks the submit button of the form matching form and waits for
// the page it leads to.
func submit(form string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		return chromedp.Run(ctx,
			chromedp.Evaluate(`window.__stale = true`, nil),
			chromedp.Click(form+` button[type=submit]`, chromedp.ByQuery),
			chromedp.Poll(`window.__stale === undefined && document.readyState === "complete"`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		)
	})
}

// screenshot saves the page as name.png where EnvScreenshots says.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv(EnvScreenshots)
	if dir == "" {
		dir = t.TempDir()
	}
	var png []byte
	run(t, ctx, chromedp.FullScreenshot(&png, 90))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func innerText(t *testing.T, ctx context.Context) string {
	t.Helper()
	var s string
	run(t, ctx, chromedp.Text("body", &s, chromedp.ByQuery))
	return s
}

func signIn(t *testing.T, ctx context.Context, base, username, password string) {
	t.Helper()
	run(t, ctx,
		chromedp.Navigate(base+"/console/"),
		chromedp.WaitVisible("#username", chromedp.ByQuery),
		chromedp.SendKeys("#username", username, chromedp.ByQuery),
		chromedp.SendKeys("#password", password, chromedp.ByQuery),
		submit(`form[action="/console/login"]`),
	)
}

func clientCredentials(t *testing.T, s *testkit.Server, id, secret string) int {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	return s.Do(t, http.MethodPost, "/oauth/token", form.Encode(), "Content-Type", "application/x-www-form-urlencoded").Status
}

// TestBrowser_AnOperatorManagesUsersRolesAndServiceAccounts drives the
// console in Chromium against a real iam serve, as an operator would.
func TestBrowser_AnOperatorManagesUsersRolesAndServiceAccounts(t *testing.T) {
	browser := newBrowser(t)
	e, s := installation(t)
	ctx := incognito(t, browser)

	run(t, ctx, chromedp.Navigate(s.URL+"/console/"), chromedp.WaitVisible("#username", chromedp.ByQuery))
	screenshot(t, ctx, "login")
	signIn(t, ctx, s.URL, "root", adminPassword)
	if h := heading(t, ctx); h != "Users" {
		t.Fatalf("after login: %q, want the Users page", h)
	}

	// Create a user with a role, then give her another.
	run(t, ctx,
		chromedp.SendKeys("#new-username", "alice", chromedp.ByQuery),
		chromedp.SendKeys("#new-password", userPassword, chromedp.ByQuery),
		chromedp.Click(`input[name=role][value=Viewer]`, chromedp.ByQuery),
		submit(`form[action="/console/users"]`),
	)
	if h := heading(t, ctx); h != "alice" {
		t.Fatalf("after creating alice: %q: %s", h, innerText(t, ctx))
	}
	run(t, ctx, chromedp.SetValue("#add-role", "Analyst", chromedp.ByQuery), submit(`form[action$="/roles"]`))
	if text := innerText(t, ctx); !strings.Contains(text, "Role added") {
		t.Fatalf("no notice after adding a role: %s", text)
	}
	screenshot(t, ctx, "user")
	claims := s.Claims(t, s.Token(t, "alice", userPassword))
	testkit.AssertStrings(t, "alice's roles in her next token", claims["roles"], "Analyst", "Viewer")

	// The audit trail shows it, with the operator as the actor.
	root := "user:" + e.UserID("root")
	run(t, ctx, chromedp.Navigate(s.URL+"/console/audit?action=user.role.added"), chromedp.WaitVisible("table.audit", chromedp.ByQuery))
	if text := innerText(t, ctx); !strings.Contains(text, "user.role.added") || !strings.Contains(text, root) || !strings.Contains(text, "The audit chain verifies") {
		t.Fatalf("the audit page does not show the role change by %s: %s", root, text)
	}
	run(t, ctx, chromedp.Navigate(s.URL+"/console/audit"), chromedp.WaitVisible("table.audit", chromedp.ByQuery))
	screenshot(t, ctx, "audit")

	// Disable her: her login is refused from now on.
	run(t, ctx, chromedp.Navigate(s.URL+"/console/users/"+e.UserID("alice")), chromedp.WaitVisible("h1", chromedp.ByQuery),
		submit(`form[action$="/disable"]`))
	if text := innerText(t, ctx); !strings.Contains(text, "Disabled.") || !strings.Contains(text, "next bundle poll") {
		t.Fatalf("no notice after disabling: %s", text)
	}
	testkit.AssertError(t, s.Login(t, "alice", userPassword), http.StatusUnauthorized, "invalid_credentials")

	// A service account: its secret is shown once; rotating it refuses
	// the old one at /oauth/token.
	var id, secret, rotated string
	run(t, ctx,
		chromedp.Navigate(s.URL+"/console/service-accounts"),
		chromedp.WaitVisible("#sa-name", chromedp.ByQuery),
		chromedp.SendKeys("#sa-name", "billing", chromedp.ByQuery),
		chromedp.Click(`input[name=role][value=Viewer]`, chromedp.ByQuery),
		submit(`form[action="/console/service-accounts"]`),
		chromedp.Text("#client-id", &id, chromedp.ByQuery),
		chromedp.Text("#client-secret", &secret, chromedp.ByQuery),
		chromedp.WaitVisible(`button[data-copy]`, chromedp.ByQuery), // console.js ran
	)
	screenshot(t, ctx, "secret")
	if got := clientCredentials(t, s, id, secret); got != http.StatusOK {
		t.Fatalf("client credentials with the shown secret: %d", got)
	}
	run(t, ctx, chromedp.Navigate(s.URL+"/console/service-accounts"), chromedp.WaitVisible("table", chromedp.ByQuery))
	if text := innerText(t, ctx); strings.Contains(text, secret) {
		t.Fatal("the service accounts page shows the secret again")
	}
	screenshot(t, ctx, "service-accounts")
	run(t, ctx, submit(`form[action="/console/service-accounts/`+id+`/rotate-secret"]`), chromedp.Text("#client-secret", &rotated, chromedp.ByQuery))
	if got := clientCredentials(t, s, id, secret); got != http.StatusUnauthorized {
		t.Errorf("client credentials with the old secret after rotation: %d, want 401", got)
	}
	if got := clientCredentials(t, s, id, rotated); got != http.StatusOK {
		t.Errorf("client credentials with the rotated secret: %d", got)
	}

	// Roles: create one and grant it a permission.
	run(t, ctx,
		chromedp.Navigate(s.URL+"/console/roles"),
		chromedp.WaitVisible("#role-name", chromedp.ByQuery),
		chromedp.SendKeys("#role-name", "support", chromedp.ByQuery),
		chromedp.SendKeys("#role-description", "help-desk operators", chromedp.ByQuery),
		submit(`form[action="/console/roles"]`),
		chromedp.SetValue("#grant", "inventory.read", chromedp.ByQuery),
		submit(`form[action$="/permissions"]`),
	)
	if text := innerText(t, ctx); !strings.Contains(text, "Permission granted") || !strings.Contains(text, "inventory.read") {
		t.Fatalf("granting a permission: %s", text)
	}
	screenshot(t, ctx, "role")
	run(t, ctx, chromedp.Navigate(s.URL+"/console/roles"), chromedp.WaitVisible("table", chromedp.ByQuery))
	screenshot(t, ctx, "roles")
	run(t, ctx, chromedp.Navigate(s.URL+"/console/keys"), chromedp.WaitVisible("table", chromedp.ByQuery))
	if text := innerText(t, ctx); !strings.Contains(text, "signing") {
		t.Errorf("the keys page shows no signing key: %s", text)
	}
	screenshot(t, ctx, "keys")
	run(t, ctx, chromedp.Navigate(s.URL+"/console/users"), chromedp.WaitVisible("table", chromedp.ByQuery))
	screenshot(t, ctx, "users")
	run(t, ctx, emulation.SetDeviceMetricsOverride(390, 844, 2, true), chromedp.Reload())
	var overflow bool
	run(t, ctx, chromedp.Evaluate(`document.documentElement.scrollWidth > window.innerWidth + 1`, &overflow))
	if overflow {
		t.Error("the users page scrolls sideways in a phone-sized window")
	}
	screenshot(t, ctx, "users-phone")
}

// TestBrowser_ScriptInStoredStringsDoesNotRun stores script payloads in
// a username, a role description and so in the audit trail, and checks
// the DOM: the payloads are text, nothing ran, no element was injected.
func TestBrowser_ScriptInStoredStringsDoesNotRun(t *testing.T) {
	browser := newBrowser(t)
	e, s := installation(t)
	const (
		username    = `<img/src=x/onerror=window.__xss=1>`
		description = `<script>window.__xss=2</script><img src=x onerror="window.__xss=3">`
	)
	e.Must(userPassword+"\n", "user", "create", username, "--password-stdin")
	e.Must("", "role", "create", "xss", "--description", description)
	ctx := incognito(t, browser)
	signIn(t, ctx, s.URL, "root", adminPassword)
	for _, path := range []string{"/console/users", "/console/users/" + e.UserID(username), "/console/roles", "/console/roles/xss", "/console/audit"} {
		var ran any
		var scripts, images int
		run(t, ctx, chromedp.Navigate(s.URL+path), chromedp.WaitVisible("h1", chromedp.ByQuery),
			chromedp.Evaluate(`window.__xss === undefined ? null : window.__xss`, &ran),
			chromedp.Evaluate(`document.querySelectorAll("script:not([src])").length`, &scripts),
			chromedp.Evaluate(`document.querySelectorAll("img").length`, &images))
		if ran != nil || scripts != 0 || images != 0 {
			t.Errorf("%s: a stored payload ran or was injected (window.__xss=%v, inline scripts %d, images %d)", path, ran, scripts, images)
		}
		text := innerText(t, ctx)
		if !strings.Contains(text, username) && !strings.Contains(text, "<script>window.__xss=2</script>") {
			t.Errorf("%s does not show the payload as text: %s", path, text)
		}
	}
}

// TestBrowser_ANonAdminIsRefusedAndAForgedCrossSitePostChangesNothing
// signs in as an account without the admin permissions, and has an
// admin's browser visit another site that posts a form to the console.
func TestBrowser_ANonAdminIsRefusedAndAForgedCrossSitePostChangesNothing(t *testing.T) {
	browser := newBrowser(t)
	e, s := installation(t)

	carol := incognito(t, browser)
	signIn(t, carol, s.URL, "carol", userPassword)
	for _, path := range []string{"/console/", "/console/users", "/console/roles", "/console/service-accounts", "/console/audit", "/console/keys"} {
		run(t, carol, chromedp.Navigate(s.URL+path), chromedp.WaitVisible("h1", chromedp.ByQuery))
		if h := heading(t, carol); h != "Forbidden" {
			t.Errorf("carol at %s: %q, want Forbidden", path, h)
		}
	}

	// The attacker's site is another site: localhost, not 127.0.0.1.
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><form id="f" method="post" action="%s/console/users">
<input name="username" value="mallory"><input name="password" value="%s"><input name="csrf" value="guessed"></form>
<script>document.getElementById("f").submit()</script>`, s.URL, userPassword)
	}))
	t.Cleanup(attacker.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(attacker.URL, "http://"))
	admin := incognito(t, browser)
	signIn(t, admin, s.URL, "root", adminPassword)
	run(t, admin, chromedp.Navigate("http://localhost:"+port+"/"),
		chromedp.Poll(`location.href.includes("/console/")`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.WaitVisible("h1", chromedp.ByQuery))
	if h := heading(t, admin); h != "Forbidden" && h != "Sign in" {
		t.Errorf("the forged post answered %q, want Forbidden (or the login page, the cookie withheld)", h)
	}
	if userExists(e, "mallory") {
		t.Fatal("a forged cross-site post created a user")
	}
	// The admin's own session still works.
	run(t, admin, chromedp.Navigate(s.URL+"/console/users"), chromedp.WaitVisible("h1", chromedp.ByQuery))
	if h := heading(t, admin); h != "Users" {
		t.Errorf("after the forged post the admin sees %q", h)
	}
}
