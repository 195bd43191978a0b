package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/consolesession"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/problem"
)

// cookieName is the session cookie; its value is the session token.
const cookieName = "gaia_console"

// operator is the signed-in user of one request.
type operator struct {
	ID       uuid.UUID
	Username string
	token    string // the session token, from the cookie
	access   string // the operator's access token for the policy; never sent
	allowed  map[string]bool
	c        *console
	r        *http.Request
}

// actor is the operator as audit events record it.
func (o *operator) actor() string { return identity.Target(o.ID) }

// CSRF is the token every form of this session posts back.
func (o *operator) CSRF() string { return consolesession.CSRFToken(o.token) }

// Can reports whether the policy grants the operator permission now.
func (o *operator) Can(permission string) bool {
	if ok, seen := o.allowed[permission]; seen {
		return ok
	}
	d, err := o.c.Authorizer.Decide(o.r.Context(), o.access, permission)
	ok := err == nil && d.Allow
	if err != nil {
		o.c.Log.WarnContext(o.r.Context(), "console permission check failed", "permission", permission, "err", err)
	}
	o.allowed[permission] = ok
	return ok
}

// The navigation's permissions, for the templates.
func (o *operator) CanReadUsers() bool  { return o.Can(authz.PermUsersRead) }
func (o *operator) CanWriteUsers() bool { return o.Can(authz.PermUsersWrite) }
func (o *operator) CanWriteRoles() bool { return o.Can(authz.PermRolesWrite) }
func (o *operator) CanReadAudit() bool  { return o.Can(authz.PermAuditRead) }

// signedIn runs h for a signed-in, active operator whom the policy grants
// permission ("" for any signed-in operator); a state-changing request
// must also carry the session's CSRF token. Without a session the
// browser is sent to the login page; without the permission or the
// token it gets 403 and nothing changes.
func (c *console) signedIn(permission string, h func(http.ResponseWriter, *http.Request, *operator)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, ok := c.operator(w, r)
		if !ok {
			return
		}
		if unsafeMethod(r.Method) && !consolesession.ValidCSRF(op.token, r.PostFormValue("csrf")) {
			c.renderError(w, r, op, http.StatusForbidden, "This form is out of date or did not come from your session (its CSRF token does not match), so nothing was changed. Reload the page and try again.")
			return
		}
		if permission != "" && !op.Can(permission) {
			c.renderError(w, r, op, http.StatusForbidden, "Your account does not hold the permission "+permission+", which this page needs.")
			return
		}
		h(w, r, op)
	})
}

// operator resolves the request's session to its user, or answers the
// request itself: to the login page when there is no session, or the
// account is no longer active (which ends the session).
func (c *console) operator(w http.ResponseWriter, r *http.Request) (*operator, bool) {
	cookie, _ := r.Cookie(cookieName)
	token := ""
	if cookie != nil {
		token = cookie.Value
	}
	sess, err := c.Console.Resume(r.Context(), token)
	if err == nil {
		var op *operator
		if op, err = c.newOperator(r, token, sess.UserID); err == nil {
			return op, true
		}
	}
	switch {
	case errors.Is(err, identity.ErrNotActive):
		if err := c.Console.End(r.Context(), token); err != nil {
			c.fail(w, r, nil, err)
			return nil, false
		}
		fallthrough
	case errors.Is(err, consolesession.ErrNoSession):
		c.clearCookie(w)
		next := ""
		if r.Method == http.MethodGet {
			next = r.URL.RequestURI()
		}
		http.Redirect(w, r, loginURL(next), http.StatusSeeOther)
	default:
		c.fail(w, r, nil, err)
	}
	return nil, false
}

// newOperator is the active user id signed in with token, with the
// access token the policy will be asked about.
func (c *console) newOperator(r *http.Request, token string, id uuid.UUID) (*operator, error) {
	t, err := c.Signin.Operator(r.Context(), id)
	if err != nil {
		return nil, err
	}
	return &operator{ID: id, Username: t.Claims.Username, token: token, access: t.Access, allowed: map[string]bool{}, c: c, r: r}, nil
}

func loginURL(next string) string {
	if next == "" || next == Path {
		return "/console/login"
	}
	return "/console/login?" + url.Values{"next": {next}}.Encode()
}

// safeNext is where to go after the login: a console page, never another
// site ("//evil.example" and "/\evil.example" are other sites).
func safeNext(next string) string {
	if !strings.HasPrefix(next, Path) || strings.ContainsAny(next, "\\") || strings.HasPrefix(next, "//") {
		return Path
	}
	return next
}

func (c *console) setCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/console", HttpOnly: true,
		Secure: c.secure, SameSite: http.SameSiteStrictMode})
}

func (c *console) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/console", MaxAge: -1, HttpOnly: true,
		Secure: c.secure, SameSite: http.SameSiteStrictMode})
}

type loginView struct {
	Username string
	Next     string
	Error    string
}

func (c *console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, nil, http.StatusOK, "login", "Sign in", loginView{Next: r.URL.Query().Get("next")})
}

// login checks the password as POST /auth/login does (the same throttle,
// the same audit event, the same answer to a wrong password or an
// unknown name) and starts a console session.
func (c *console) login(w http.ResponseWriter, r *http.Request) {
	username, password, next := r.PostFormValue("username"), r.PostFormValue("password"), r.PostFormValue("next")
	ip := c.clientIP(r)
	user, err := c.Signin.Authenticate(r.Context(), username, password, ip)
	if err != nil {
		p := problem.Of(err)
		if !p.Known {
			c.fail(w, r, nil, err)
			return
		}
		if p.RetryAfter != "" {
			w.Header().Set("Retry-After", p.RetryAfter)
		}
		c.render(w, r, nil, p.Status, "login", "Sign in", loginView{Username: username, Next: next, Error: p.Message})
		return
	}
	token, _, err := c.Console.Start(r.Context(), user.ID, ip)
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	c.setCookie(w, token)
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

func (c *console) logout(w http.ResponseWriter, r *http.Request, op *operator) {
	if err := c.Console.End(r.Context(), op.token); err != nil {
		c.fail(w, r, op, err)
		return
	}
	c.clearCookie(w)
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

// home is the first page the operator may open.
func (c *console) home(w http.ResponseWriter, r *http.Request, op *operator) {
	switch {
	case op.CanReadUsers():
		http.Redirect(w, r, "/console/users", http.StatusSeeOther)
	case op.CanReadAudit():
		http.Redirect(w, r, "/console/audit", http.StatusSeeOther)
	default:
		c.renderError(w, r, op, http.StatusForbidden, "Your account holds none of the permissions the console's pages need ("+
			authz.PermUsersRead+", "+authz.PermAuditRead+").")
	}
}
