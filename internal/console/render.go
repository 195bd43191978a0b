package console

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/problem"
	"github.com/gaia-platform/iam/internal/serviceaccount"
)

// view is what every page's template gets.
type view struct {
	Title  string
	Op     *operator // nil when nobody is signed in
	Notice string
	Error  string // for the page as a whole
	Page   any
}

var funcs = template.FuncMap{
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		case *time.Time:
			if v == nil {
				return "never"
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		return fmt.Sprint(t)
	},
	"pathEscape": url.PathEscape,
	"deref":      func(b *bool) bool { return b != nil && *b },
	// who is an actor or target as recorded, with its name when names
	// has one.
	"who": func(names map[string]string, id string) struct{ ID, Name string } {
		return struct{ ID, Name string }{id, names[id]}
	},
	// fieldError is e's message when it is about field ("" for a form's
	// error that no field owns).
	"fieldError": func(e formError, field string) string {
		if e.Field == field {
			return e.Message
		}
		return ""
	},
}

// render writes page with data; a template that fails writes nothing of
// itself, only a plain error.
func (c *console) render(w http.ResponseWriter, r *http.Request, op *operator, status int, page, title string, data any) {
	c.renderView(w, r, status, page, view{Title: title, Op: op, Notice: notice(r, c.PollInterval), Page: data})
}

func (c *console) renderView(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	var buf bytes.Buffer
	if err := c.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		c.Log.ErrorContext(r.Context(), "console page failed to render", "page", page, "path", r.URL.Path, "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderError answers a page that says only what went wrong.
func (c *console) renderError(w http.ResponseWriter, r *http.Request, op *operator, status int, message string) {
	c.renderView(w, r, status, "error", view{Title: http.StatusText(status), Op: op, Error: message})
}

// fail answers err as the admin API would, as a page: an unknown error
// is logged and shown as "internal server error" only.
func (c *console) fail(w http.ResponseWriter, r *http.Request, op *operator, err error) {
	p := problem.Of(err)
	if !p.Known {
		c.Log.ErrorContext(r.Context(), "console request failed", "path", r.URL.Path, "err", err)
	}
	if p.RetryAfter != "" {
		w.Header().Set("Retry-After", p.RetryAfter)
	}
	c.renderError(w, r, op, p.Status, p.Message)
}

// formError is a refused form: the field it is about and the API's
// message, shown next to the field.
type formError struct {
	Field   string
	Message string
}

// fieldOf is the form field a domain error is about.
func fieldOf(err error) string {
	switch {
	case errors.Is(err, identity.ErrInvalidUsername), errors.Is(err, identity.ErrUsernameTaken),
		errors.Is(err, serviceaccount.ErrInvalidName), errors.Is(err, serviceaccount.ErrNameTaken),
		errors.Is(err, authz.ErrInvalidRole), errors.Is(err, authz.ErrRoleExists):
		return "name"
	case errors.Is(err, identity.ErrInvalidPassword):
		return "password"
	case errors.Is(err, authz.ErrRoleNotFound):
		return "role"
	case errors.Is(err, authz.ErrInvalidPermission), errors.Is(err, authz.ErrPermissionExists), errors.Is(err, authz.ErrPermissionNotFound):
		return "permission"
	}
	return ""
}

// refuse answers a form that err refused: the form's page again, with
// the API's message beside the field, and err's status; an error that is
// not the form's fault is answered by fail.
func (c *console) refuse(w http.ResponseWriter, r *http.Request, op *operator, err error, again func(status int, fe formError)) {
	p := problem.Of(err)
	if !p.Known || p.Status >= 500 {
		c.fail(w, r, op, err)
		return
	}
	again(p.Status, formError{Field: fieldOf(err), Message: p.Message})
}

// chosenRoles are the role fields of a create form, as posted and as a
// set for the form shown again.
func chosenRoles(r *http.Request) ([]string, map[string]bool) {
	chosen := map[string]bool{}
	for _, role := range r.PostForm["role"] {
		chosen[role] = true
	}
	return r.PostForm["role"], chosen
}

// done sends the browser on to target after a change, with a notice
// saying what happened (a fixed text chosen by code: nothing of the
// request is echoed).
func done(w http.ResponseWriter, r *http.Request, target, noticeCode string) {
	sep := "?"
	if u, err := url.Parse(target); err == nil && u.RawQuery != "" {
		sep = "&"
	}
	http.Redirect(w, r, target+sep+"notice="+noticeCode, http.StatusSeeOther)
}

// notices are the texts a change's notice code stands for; "%s" is
// where the bundle's reach is said.
var notices = map[string]string{
	"created":            "Created.",
	"disabled":           "Disabled. This IAM refuses its tokens now, and %s.",
	"enabled":            "Enabled. It can sign in again; tokens revoked when it was disabled stay revoked.",
	"password":           "Password set. The user's console sessions have ended.",
	"role-added":         "Role added. New tokens carry it, and %s.",
	"role-removed":       "Role removed. This IAM refuses tokens that claim it now, and %s.",
	"session-ended":      "Session ended: its refresh token is refused from now on.",
	"saved":              "Saved.",
	"granted":            "Permission granted; %s.",
	"revoked":            "Permission revoked. This IAM refuses tokens that claim it through this role now, and %s.",
	"permission-created": "Permission created.",
}

// reach is how far a change has got: the IAM republishes its bundle
// within poll, and each service takes it at its own next poll.
func reach(poll time.Duration) string {
	return fmt.Sprintf("every service follows at its next bundle poll (the bundle is republished within %s; the SDKs poll every 10s by default)", poll)
}

func notice(r *http.Request, poll time.Duration) string {
	text, ok := notices[r.URL.Query().Get("notice")]
	if !ok {
		return ""
	}
	if strings.Contains(text, "%s") {
		return fmt.Sprintf(text, reach(poll))
	}
	return text
}
