package console

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/tokens"
)

// usersPageSize is how many users a page of the list shows.
const usersPageSize = 50

type userRow struct {
	identity.User
	Roles []string
}

type usersView struct {
	Search   string
	Users    []userRow
	Next     string // the next page's URL, "" on the last
	AllRoles []authz.Role
	Form     createUserForm
}

type createUserForm struct {
	Username string
	Roles    map[string]bool
	Error    formError
}

func (c *console) users(w http.ResponseWriter, r *http.Request, op *operator) {
	c.renderUsers(w, r, op, http.StatusOK, createUserForm{})
}

func (c *console) renderUsers(w http.ResponseWriter, r *http.Request, op *operator, status int, form createUserForm) {
	ctx := r.Context()
	q := r.URL.Query()
	page, err := c.Users.Page(ctx, q.Get("search"), q.Get("after"), usersPageSize+1)
	if err != nil {
		c.fail(w, r, op, err)
		return
	}
	v := usersView{Search: q.Get("search"), Form: form}
	if len(page) > usersPageSize {
		page = page[:usersPageSize]
		v.Next = nextURL(r, "after", page[usersPageSize-1].Username)
	}
	for _, u := range page {
		g, err := c.RBAC.Grants(ctx, u.ID)
		if err != nil {
			c.fail(w, r, op, err)
			return
		}
		v.Users = append(v.Users, userRow{User: u, Roles: g.Roles})
	}
	if v.AllRoles, err = c.RBAC.Roles(ctx); err != nil {
		c.fail(w, r, op, err)
		return
	}
	c.render(w, r, op, status, "users", "Users", v)
}

// createUser is POST /console/users: username, password (set once, held
// to the password policy) and any number of role fields.
func (c *console) createUser(w http.ResponseWriter, r *http.Request, op *operator) {
	ctx := r.Context()
	form := createUserForm{Username: r.PostFormValue("username")}
	posted, chosen := chosenRoles(r)
	form.Roles = chosen
	roles, err := c.RBAC.RoleNames(ctx, posted)
	if err == nil {
		var u identity.User
		if u, err = c.Users.Create(ctx, op.actor(), form.Username, r.PostFormValue("password"), roles); err == nil {
			c.publish(r)
			done(w, r, "/console/users/"+u.ID.String(), "created")
			return
		}
	}
	c.refuse(w, r, op, err, func(status int, fe formError) {
		form.Error = fe
		c.renderUsers(w, r, op, status, form)
	})
}

type userView struct {
	identity.User
	Roles    []string
	Grants   []string // the permissions the roles add up to
	AllRoles []authz.Role
	Sessions []tokens.RefreshFamily
	Error    formError
}

func (c *console) user(w http.ResponseWriter, r *http.Request, op *operator) {
	c.renderUser(w, r, op, http.StatusOK, formError{})
}

func (c *console) renderUser(w http.ResponseWriter, r *http.Request, op *operator, status int, fe formError) {
	u, ok := c.pathUser(w, r, op)
	if !ok {
		return
	}
	ctx := r.Context()
	v := userView{User: u, Error: fe}
	g, err := c.RBAC.Grants(ctx, u.ID)
	if err == nil {
		v.Roles, v.Grants = g.Roles, g.Permissions
		if v.AllRoles, err = c.RBAC.Roles(ctx); err == nil {
			v.Sessions, err = c.Sessions.Active(ctx, u.ID)
		}
	}
	if err != nil {
		c.fail(w, r, op, err)
		return
	}
	c.render(w, r, op, status, "user", u.Username, v)
}

// pathUser is the user {id} names, or a 404 page.
func (c *console) pathUser(w http.ResponseWriter, r *http.Request, op *operator) (identity.User, bool) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		c.fail(w, r, op, identity.ErrUserNotFound)
		return identity.User{}, false
	}
	u, err := c.Users.ByID(r.Context(), id)
	if err != nil {
		c.fail(w, r, op, err)
		return identity.User{}, false
	}
	return u, true
}

// changeUser runs change on the {id} user and goes back to the user's
// page with noticeCode, or shows the refusal next to the form.
func (c *console) changeUser(w http.ResponseWriter, r *http.Request, op *operator, noticeCode string, change func(context.Context, identity.User) error) {
	u, ok := c.pathUser(w, r, op)
	if !ok {
		return
	}
	if err := change(r.Context(), u); err != nil {
		c.refuse(w, r, op, err, func(status int, fe formError) { c.renderUser(w, r, op, status, fe) })
		return
	}
	c.publish(r)
	done(w, r, "/console/users/"+u.ID.String(), noticeCode)
}

func (c *console) disableUser(w http.ResponseWriter, r *http.Request, op *operator) {
	c.changeUser(w, r, op, "disabled", func(ctx context.Context, u identity.User) error {
		return c.Users.Disable(ctx, op.actor(), u.Username)
	})
}

func (c *console) enableUser(w http.ResponseWriter, r *http.Request, op *operator) {
	c.changeUser(w, r, op, "enabled", func(ctx context.Context, u identity.User) error {
		return c.Users.Enable(ctx, op.actor(), u.Username)
	})
}

func (c *console) resetPassword(w http.ResponseWriter, r *http.Request, op *operator) {
	c.changeUser(w, r, op, "password", func(ctx context.Context, u identity.User) error {
		return c.Users.SetPassword(ctx, op.actor(), u.Username, r.PostFormValue("password"))
	})
}

func (c *console) addUserRole(w http.ResponseWriter, r *http.Request, op *operator) {
	c.changeUser(w, r, op, "role-added", func(ctx context.Context, u identity.User) error {
		_, err := c.RBAC.AddUserRole(ctx, op.actor(), u.ID, r.PostFormValue("role"))
		return err
	})
}

func (c *console) removeUserRole(w http.ResponseWriter, r *http.Request, op *operator) {
	c.changeUser(w, r, op, "role-removed", func(ctx context.Context, u identity.User) error {
		_, err := c.RBAC.RemoveUserRole(ctx, op.actor(), u.ID, r.PostFormValue("role"))
		return err
	})
}

func (c *console) endSession(w http.ResponseWriter, r *http.Request, op *operator) {
	c.changeUser(w, r, op, "session-ended", func(ctx context.Context, u identity.User) error {
		id, err := uuid.Parse(r.PathValue("session"))
		if err != nil {
			return tokens.ErrSessionNotFound
		}
		return c.Sessions.End(ctx, op.actor(), u.ID, id, c.clientIP(r))
	})
}
