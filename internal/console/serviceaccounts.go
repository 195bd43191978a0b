package console

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/serviceaccount"
)

type serviceAccountsView struct {
	Accounts []serviceaccount.Account
	AllRoles []authz.Role
	Form     createServiceAccountForm
}

type createServiceAccountForm struct {
	Name  string
	Roles map[string]bool
	Error formError
}

// secretView shows a client secret, the one time it is ever shown.
type secretView struct {
	Account serviceaccount.Account
	Secret  string
	Rotated bool
}

func (c *console) serviceAccounts(w http.ResponseWriter, r *http.Request, op *operator) {
	c.renderServiceAccounts(w, r, op, http.StatusOK, createServiceAccountForm{})
}

func (c *console) renderServiceAccounts(w http.ResponseWriter, r *http.Request, op *operator, status int, form createServiceAccountForm) {
	v := serviceAccountsView{Form: form}
	var err error
	if v.Accounts, err = c.Services.List(r.Context()); err == nil {
		v.AllRoles, err = c.RBAC.Roles(r.Context())
	}
	if err != nil {
		c.fail(w, r, op, err)
		return
	}
	c.render(w, r, op, status, "service_accounts", "Service accounts", v)
}

// createServiceAccount answers the new account's secret on the page
// itself (never in a redirect's URL), once.
func (c *console) createServiceAccount(w http.ResponseWriter, r *http.Request, op *operator) {
	ctx := r.Context()
	form := createServiceAccountForm{Name: r.PostFormValue("name")}
	posted, chosen := chosenRoles(r)
	form.Roles = chosen
	roles, err := c.RBAC.RoleNames(ctx, posted)
	if err == nil {
		var acct serviceaccount.Account
		var secret string
		if acct, secret, err = c.Services.Create(ctx, op.actor(), form.Name, roles); err == nil {
			c.publish(r)
			c.render(w, r, op, http.StatusCreated, "secret", "Service account created", secretView{Account: acct, Secret: secret})
			return
		}
	}
	c.refuse(w, r, op, err, func(status int, fe formError) {
		form.Error = fe
		c.renderServiceAccounts(w, r, op, status, form)
	})
}

// pathAccount is the service account {id} names, or a 404 page.
func (c *console) pathAccount(w http.ResponseWriter, r *http.Request, op *operator) (serviceaccount.Account, bool) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		c.fail(w, r, op, serviceaccount.ErrNotFound)
		return serviceaccount.Account{}, false
	}
	a, err := c.Services.ByID(r.Context(), id)
	if err != nil {
		c.fail(w, r, op, err)
		return serviceaccount.Account{}, false
	}
	return a, true
}

func (c *console) rotateSecret(w http.ResponseWriter, r *http.Request, op *operator) {
	a, ok := c.pathAccount(w, r, op)
	if !ok {
		return
	}
	acct, secret, err := c.Services.RotateSecret(r.Context(), op.actor(), a.Name)
	if err != nil {
		c.fail(w, r, op, err)
		return
	}
	c.publish(r)
	c.render(w, r, op, http.StatusOK, "secret", "Secret rotated", secretView{Account: acct, Secret: secret, Rotated: true})
}

func (c *console) disableServiceAccount(w http.ResponseWriter, r *http.Request, op *operator) {
	a, ok := c.pathAccount(w, r, op)
	if !ok {
		return
	}
	if _, err := c.Services.Disable(r.Context(), op.actor(), a.Name); err != nil {
		c.fail(w, r, op, err)
		return
	}
	c.publish(r)
	done(w, r, "/console/service-accounts", "disabled")
}
