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
	if err := chromedp.Do(ctx); err != nil {
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

type css = chromedp.CSS

// run runs the steps in the browser, failing t with where it was.
func run(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		where, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.Text(css("body")))
		t.Fatalf("browser: %v (at %s: %.800s)", err, where, body)
	}
}

// value runs one action that answers a value.
func value[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		where, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("browser: %v (at %s)", err, where)
	}
	return v
}

func heading(t *testing.T, ctx context.Context) string {
	t.Helper()
	return value(t, ctx, chromedp.Text(css("h1")))
}

func innerText(t *testing.T, ctx context.Context) string {
	t.Helper()
	return value(t, ctx, chromedp.Text(css("body")))
}

// submit clicks the submit button of the post form matching form and
// waits for the page it leads to.
func submit(t *testing.T, ctx context.Context, form string) {
	t.Helper()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(css(form+`[method=post] button[type=submit]`))); err != nil {
		t.Fatalf("submit %s: %v", form, err)
	}
}

// screenshot saves the page as name.png where EnvScreenshots says.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv(EnvScreenshots)
	if dir == "" {
		dir = t.TempDir()
	}
	png := value(t, ctx, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, ctx context.Context, url, ready string) {
	t.Helper()
	run(t, ctx, chromedp.Navigate(url), chromedp.WaitVisible(css(ready)))
}

func signIn(t *testing.T, ctx context.Context, base, username, password string) {
	t.Helper()
	open(t, ctx, base+"/console/", "#username")
	run(t, ctx, chromedp.SendKeys(css("#username"), username), chromedp.SendKeys(css("#password"), password))
	submit(t, ctx, `form[action="/console/login"]`)
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

	open(t, ctx, s.URL+"/console/", "#username")
	screenshot(t, ctx, "login")
	signIn(t, ctx, s.URL, "root", adminPassword)
	if h := heading(t, ctx); h != "Users" {
		t.Fatalf("after login: %q, want the Users page", h)
	}

	// Create a user with a role, then give her another.
	run(t, ctx,
		chromedp.SendKeys(css("#new-username"), "alice"),
		chromedp.SendKeys(css("#new-password"), userPassword),
		chromedp.Click(css(`input[name=role][value=Viewer]`)),
	)
	submit(t, ctx, `form[action="/console/users"]`)
	if h := heading(t, ctx); h != "alice" {
		t.Fatalf("after creating alice: %q: %s", h, innerText(t, ctx))
	}
	run(t, ctx, chromedp.SetValue(css("#add-role"), "Analyst"))
	submit(t, ctx, `form[action$="/roles"]`)
	if text := innerText(t, ctx); !strings.Contains(text, "Role added") {
		t.Fatalf("no notice after adding a role: %s", text)
	}
	screenshot(t, ctx, "user")
	claims := s.Claims(t, s.Token(t, "alice", userPassword))
	testkit.AssertStrings(t, "alice's roles in her next token", claims["roles"], "Analyst", "Viewer")

	// The audit trail shows it, with the operator as the actor.
	root := "user:" + e.UserID("root")
	open(t, ctx, s.URL+"/console/audit?action=user.role.added", "table.audit")
	if text := innerText(t, ctx); !strings.Contains(text, "user.role.added") || !strings.Contains(text, root) || !strings.Contains(text, "The audit chain verifies") {
		t.Fatalf("the audit page does not show the role change by %s: %s", root, text)
	}
	open(t, ctx, s.URL+"/console/audit", "table.audit")
	screenshot(t, ctx, "audit")

	// Disable her: her login is refused from now on.
	open(t, ctx, s.URL+"/console/users/"+e.UserID("alice"), "h1")
	submit(t, ctx, `form[action$="/disable"]`)
	if text := innerText(t, ctx); !strings.Contains(text, "Disabled.") || !strings.Contains(text, "next bundle poll") {
		t.Fatalf("no notice after disabling: %s", text)
	}
	testkit.AssertError(t, s.Login(t, "alice", userPassword), http.StatusUnauthorized, "invalid_credentials")

	// A service account: its secret is shown once; rotating it refuses
	// the old one at /oauth/token.
	open(t, ctx, s.URL+"/console/service-accounts", "#sa-name")
	run(t, ctx, chromedp.SendKeys(css("#sa-name"), "billing"), chromedp.Click(css(`input[name=role][value=Viewer]`)))
	submit(t, ctx, `form[action="/console/service-accounts"]`)
	run(t, ctx, chromedp.WaitVisible(css(`button[data-copy]`))) // console.js ran
	id := value(t, ctx, chromedp.Text(css("#client-id")))
	secret := value(t, ctx, chromedp.Text(css("#client-secret")))
	screenshot(t, ctx, "secret")
	if got := clientCredentials(t, s, id, secret); got != http.StatusOK {
		t.Fatalf("client credentials with the shown secret: %d", got)
	}
	open(t, ctx, s.URL+"/console/service-accounts", "table")
	if text := innerText(t, ctx); strings.Contains(text, secret) {
		t.Fatal("the service accounts page shows the secret again")
	}
	screenshot(t, ctx, "service-accounts")
	submit(t, ctx, `form[action="/console/service-accounts/`+id+`/rotate-secret"]`)
	rotated := value(t, ctx, chromedp.Text(css("#client-secret")))
	if got := clientCredentials(t, s, id, secret); got != http.StatusUnauthorized {
		t.Errorf("client credentials with the old secret after rotation: %d, want 401", got)
	}
	if got := clientCredentials(t, s, id, rotated); got != http.StatusOK {
		t.Errorf("client credentials with the rotated secret: %d", got)
	}

	// Roles: create one and grant it a permission.
	open(t, ctx, s.URL+"/console/roles", "#role-name")
	run(t, ctx, chromedp.SendKeys(css("#role-name"), "support"), chromedp.SendKeys(css("#role-description"), "help-desk operators"))
	submit(t, ctx, `form[action="/console/roles"]`)
	run(t, ctx, chromedp.SetValue(css("#grant"), "inventory.read"))
	submit(t, ctx, `form[action$="/permissions"]`)
	if text := innerText(t, ctx); !strings.Contains(text, "Permission granted") || !strings.Contains(text, "inventory.read") {
		t.Fatalf("granting a permission: %s", text)
	}
	screenshot(t, ctx, "role")
	open(t, ctx, s.URL+"/console/roles", "table")
	screenshot(t, ctx, "roles")
	open(t, ctx, s.URL+"/console/keys", "table")
	if text := innerText(t, ctx); !strings.Contains(text, "signing") {
		t.Errorf("the keys page shows no signing key: %s", text)
	}
	screenshot(t, ctx, "keys")
	open(t, ctx, s.URL+"/console/users", "table")
	screenshot(t, ctx, "users")
	run(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile), chromedp.Reload())
	if value(t, ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)) {
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
		open(t, ctx, s.URL+path, "h1")
		ran := value(t, ctx, chromedp.Evaluate[any](`window.__xss === undefined ? null : window.__xss`))
		scripts := value(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("script:not([src])").length`))
		images := value(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("img").length`))
		if ran != nil || scripts != 0 || images != 0 {
			t.Errorf("%s: a stored payload ran or was injected (window.__xss=%v, inline scripts %d, images %d)", path, ran, scripts, images)
		}
		text := innerText(t, ctx) + value(t, ctx, chromedp.Evaluate[string](`document.querySelector("#description")?.value ?? ""`))
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
		open(t, carol, s.URL+path, "h1")
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
	run(t, admin, chromedp.Navigate("http://localhost:"+port+"/"))
	value(t, admin, chromedp.Poll[bool](`location.href.includes("/console/") && document.readyState === "complete"`, chromedp.WithPollingTimeout(20*time.Second)))
	run(t, admin, chromedp.WaitVisible(css("h1")))
	if h := heading(t, admin); h != "Forbidden" && h != "Sign in" {
		t.Errorf("the forged post answered %q, want Forbidden (or the login page, the cookie withheld)", h)
	}
	if userExists(e, "mallory") {
		t.Fatal("a forged cross-site post created a user")
	}
	// The admin's own session still works.
	open(t, admin, s.URL+"/console/users", "h1")
	if h := heading(t, admin); h != "Users" {
		t.Errorf("after the forged post the admin sees %q", h)
	}
}
