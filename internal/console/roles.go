package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/serviceaccount"
)

type rolesView struct {
	Roles       []authz.Role
	Permissions []authz.Permission
	RoleForm    nameForm
	PermForm    nameForm
}

// nameForm is a create form's fields, kept when it is refused.
type nameForm struct {
	Name        string
	Description string
	Error       formError
}

func (c *console) roles(w http.ResponseWriter, r *http.Request, op *operator) {
	c.renderRoles(w, r, op, http.StatusOK, rolesView{})
}

func (c *console) renderRoles(w http.ResponseWriter, r *http.Request, op *operator, status int, v rolesView) {
	var err error
	if v.Roles, err = c.RBAC.Roles(r.Context()); err == nil {
		v.Permissions, err = c.RBAC.Permissions(r.Context())
	}
	if err != nil {
		c.fail(w, r, op, err)
		return
	}
	c.render(w, r, op, status, "roles", "Roles and permissions", v)
}

func (c *console) createRole(w http.ResponseWriter, r *http.Request, op *operator) {
	form := nameForm{Name: r.PostFormValue("name"), Description: r.PostFormValue("description")}
	role, err := c.RBAC.CreateRole(r.Context(), op.actor(), form.Name, form.Description)
	if err == nil {
		c.publish(r)
		done(w, r, rolePath(role.Name), "created")
		return
	}
	c.refuse(w, r, op, err, func(status int, fe formError) {
		form.Error = fe
		c.renderRoles(w, r, op, status, rolesView{RoleForm: form})
	})
}

func (c *console) createPermission(w http.ResponseWriter, r *http.Request, op *operator) {
	form := nameForm{Name: r.PostFormValue("permission"), Description: r.PostFormValue("description")}
	_, err := c.RBAC.CreatePermission(r.Context(), op.actor(), form.Name, form.Description)
	if err == nil {
		c.publish(r)
		done(w, r, "/console/roles", "permission-created")
		return
	}
	c.refuse(w, r, op, err, func(status int, fe formError) {
		form.Error = fe
		c.renderRoles(w, r, op, status, rolesView{PermForm: form})
	})
}

func rolePath(name string) string { return "/console/roles/" + url.PathEscape(name) }

// holder is a user or a service account holding a role.
type holder struct {
	Kind string // "user" or "service account"
	Name string
	Link string // its page, "" when it has none
}

type roleView struct {
	authz.Role
	Grantable []authz.Permission // the permissions it does not hold yet
	Holders   []holder
	Error     formError
}

func (c *console) role(w http.ResponseWriter, r *http.Request, op *operator) {
	c.renderRole(w, r, op, http.StatusOK, formError{})
}

func (c *console) renderRole(w http.ResponseWriter, r *http.Request, op *operator, status int, fe formError) {
	ctx := r.Context()
	role, err := c.RBAC.Role(ctx, r.PathValue("name"))
	if err != nil {
		c.fail(w, r, op, err)
		return
	}
	v := roleView{Role: role, Error: fe}
	perms, err := c.RBAC.Permissions(ctx)
	if err == nil {
		for _, p := range perms {
			if !slices.Contains(role.Permissions, p.Code) {
				v.Grantable = append(v.Grantable, p)
			}
		}
		v.Holders, err = c.holders(ctx, role.Name)
	}
	if err != nil {
		c.fail(w, r, op, err)
		return
	}
	c.render(w, r, op, status, "role", role.Name, v)
}

// holders names the users and service accounts that hold role.
func (c *console) holders(ctx context.Context, role string) ([]holder, error) {
	ids, err := c.RBAC.Holders(ctx, role)
	if err != nil {
		return nil, err
	}
	out := make([]holder, 0, len(ids))
	for _, id := range ids {
		if u, err := c.Users.ByID(ctx, id); err == nil {
			out = append(out, holder{Kind: "user", Name: u.Username, Link: "/console/users/" + id.String()})
			continue
		} else if !errors.Is(err, identity.ErrUserNotFound) {
			return nil, err
		}
		a, err := c.Services.ByID(ctx, id)
		if errors.Is(err, serviceaccount.ErrNotFound) {
			continue // deleted between the two reads
		}
		if err != nil {
			return nil, err
		}
		out = append(out, holder{Kind: "service account", Name: a.Name, Link: "/console/service-accounts#" + id.String()})
	}
	slices.SortFunc(out, func(a, b holder) int {
		if a.Kind != b.Kind {
			return strings.Compare(a.Kind, b.Kind)
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// changeRole runs change on the {name} role and goes back to its page.
func (c *console) changeRole(w http.ResponseWriter, r *http.Request, op *operator, noticeCode string, change func(context.Context, string) error) {
	name := r.PathValue("name")
	if err := change(r.Context(), name); err != nil {
		c.refuse(w, r, op, err, func(status int, fe formError) { c.renderRole(w, r, op, status, fe) })
		return
	}
	c.publish(r)
	done(w, r, rolePath(name), noticeCode)
}

func (c *console) describeRole(w http.ResponseWriter, r *http.Request, op *operator) {
	c.changeRole(w, r, op, "saved", func(ctx context.Context, name string) error {
		_, err := c.RBAC.SetRoleDescription(ctx, op.actor(), name, r.PostFormValue("description"))
		return err
	})
}

func (c *console) grantPermission(w http.ResponseWriter, r *http.Request, op *operator) {
	c.changeRole(w, r, op, "granted", func(ctx context.Context, name string) error {
		_, err := c.RBAC.Grant(ctx, op.actor(), name, r.PostFormValue("permission"))
		return err
	})
}

func (c *console) revokePermission(w http.ResponseWriter, r *http.Request, op *operator) {
	c.changeRole(w, r, op, "revoked", func(ctx context.Context, name string) error {
		_, err := c.RBAC.Revoke(ctx, op.actor(), name, r.PostFormValue("permission"))
		return err
	})
}
