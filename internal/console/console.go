// Package console is the admin console: server-rendered pages under
// /console/ where operators manage users, roles and service accounts and
// read the audit trail. Every page and action asks the policy bundle for
// the admin API's permission and runs through the services the API uses,
// so the console can never do what the API would refuse. It never hands
// a token or a secret hash to page JavaScript, and changes nothing on a
// request without the session's CSRF token and a same-origin browser.
package console

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/bundle"
	"github.com/gaia-platform/iam/internal/clientip"
	"github.com/gaia-platform/iam/internal/consolesession"
	"github.com/gaia-platform/iam/internal/decisionlog"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/serviceaccount"
	"github.com/gaia-platform/iam/internal/signin"
	"github.com/gaia-platform/iam/internal/tokens"
)

// Deps is what the console needs: the admin API's services.
type Deps struct {
	Users    *identity.Service
	RBAC     *authz.Service
	Services *serviceaccount.Service
	Signin   *signin.Service
	// Sessions are users' API sessions (refresh families), which the
	// console lists and ends.
	Sessions *tokens.Sessions
	// Console keeps the console's own browser sessions.
	Console      *consolesession.Service
	Authorizer   *bundle.Authorizer
	AuditTrail   *audit.Trail
	VerifyAudit  func(context.Context) (int, error) // iam audit verify's answer
	DecisionLogs *decisionlog.Service
	// DecisionLogSubject resolves a subject filter: a username or a
	// service account name to its id.
	DecisionLogSubject func(context.Context, string) (string, error)
	Keys               *tokens.Keyring
	Bundle             func() *bundle.Signed
	// SyncBundle publishes a change at once, as the admin API does.
	SyncBundle func(context.Context) error
	// PollInterval is how often services poll the bundle: how soon a
	// revocation reaches them, as the pages say.
	PollInterval time.Duration
	PublicURL    string // https: the session cookie is Secure
	Proxies      clientip.Proxies
	Log          *slog.Logger
	Now          func() time.Time
}

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Path is where the console is served.
const Path = "/console/"

type console struct {
	Deps
	pages  map[string]*template.Template
	origin *http.CrossOriginProtection
	secure bool
}

// New returns the console's handler for everything under Path.
func New(d Deps) (http.Handler, error) {
	c := &console{Deps: d, pages: map[string]*template.Template{}, origin: http.NewCrossOriginProtection()}
	u, err := url.Parse(d.PublicURL)
	if err == nil && u.Scheme != "" && u.Host != "" {
		c.secure = u.Scheme == "https"
		if err := c.origin.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			return nil, err
		}
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if name == "templates/layout.html" {
			continue
		}
		t, err := template.New("").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", name)
		if err != nil {
			return nil, err
		}
		c.pages[name[len("templates/"):len(name)-len(".html")]] = t
	}
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /console/login", c.loginPage)
	mux.HandleFunc("POST /console/login", c.login)
	mux.Handle("POST /console/logout", c.signedIn("", c.logout))
	mux.Handle("GET /console/{$}", c.signedIn("", c.home))

	page := func(pattern, permission string, h func(http.ResponseWriter, *http.Request, *operator)) {
		mux.Handle(pattern, c.signedIn(permission, h))
	}
	page("GET /console/users", authz.PermUsersRead, c.users)
	page("POST /console/users", authz.PermUsersWrite, c.createUser)
	page("GET /console/users/{id}", authz.PermUsersRead, c.user)
	page("POST /console/users/{id}/disable", authz.PermUsersWrite, c.disableUser)
	page("POST /console/users/{id}/enable", authz.PermUsersWrite, c.enableUser)
	page("POST /console/users/{id}/password", authz.PermUsersWrite, c.resetPassword)
	page("POST /console/users/{id}/roles", authz.PermUsersWrite, c.addUserRole)
	page("POST /console/users/{id}/roles/remove", authz.PermUsersWrite, c.removeUserRole)
	page("POST /console/users/{id}/sessions/{session}/end", authz.PermUsersWrite, c.endSession)

	page("GET /console/roles", authz.PermUsersRead, c.roles)
	page("POST /console/roles", authz.PermRolesWrite, c.createRole)
	page("POST /console/permissions", authz.PermRolesWrite, c.createPermission)
	page("GET /console/roles/{name}", authz.PermUsersRead, c.role)
	page("POST /console/roles/{name}/description", authz.PermRolesWrite, c.describeRole)
	page("POST /console/roles/{name}/permissions", authz.PermRolesWrite, c.grantPermission)
	page("POST /console/roles/{name}/permissions/revoke", authz.PermRolesWrite, c.revokePermission)

	page("GET /console/service-accounts", authz.PermUsersRead, c.serviceAccounts)
	page("POST /console/service-accounts", authz.PermUsersWrite, c.createServiceAccount)
	page("POST /console/service-accounts/{id}/rotate-secret", authz.PermUsersWrite, c.rotateSecret)
	page("POST /console/service-accounts/{id}/disable", authz.PermUsersWrite, c.disableServiceAccount)

	page("GET /console/audit", authz.PermAuditRead, c.audit)
	page("GET /console/decisions", authz.PermAuditRead, c.decisions)
	page("GET /console/keys", authz.PermAuditRead, c.keys)

	mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		c.renderError(w, r, nil, http.StatusNotFound, "There is no such page.")
	})
	return c.guard(mux), nil
}

// contentSecurityPolicy allows the console's own files and nothing
// inline: a string that escaped the templates could still not run.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// guard sets the console's headers on every answer and refuses, before
// anything else runs, a state-changing request that a browser did not
// send from this origin: its Sec-Fetch-Site or Origin must say so (one
// of them must be there), else 403 and nothing changes.
func (c *console) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		// The Origin header of a form post survives same-origin only.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		if unsafeMethod(r.Method) {
			if r.Header.Get("Sec-Fetch-Site") == "" && r.Header.Get("Origin") == "" {
				c.renderError(w, r, nil, http.StatusForbidden, "This request did not come from a console page (no Origin or Sec-Fetch-Site header), so nothing was changed.")
				return
			}
			if err := c.origin.Check(r); err != nil {
				c.renderError(w, r, nil, http.StatusForbidden, "This request came from another site, so nothing was changed.")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// clientIP is the client's address behind the trusted proxies.
func (c *console) clientIP(r *http.Request) string {
	return c.Proxies.ClientIP(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))
}

// publish brings the bundle up to date after a change, as the admin API
// does; the change is committed whatever happens here.
func (c *console) publish(r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := c.SyncBundle(ctx); err != nil {
		c.Log.WarnContext(ctx, "policy bundle not refreshed after a console change; the next poll will", "path", r.URL.Path, "err", err)
	}
}
