package httpapi

import (
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/serviceaccount"
)

type serviceAccountView struct {
	ClientID  uuid.UUID `json:"client_id"`
	Name      string    `json:"name"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Roles     []string  `json:"roles"`
}

func serviceAccountOf(a serviceaccount.Account) serviceAccountView {
	roles := a.Roles
	if roles == nil {
		roles = []string{}
	}
	return serviceAccountView{ClientID: a.ID, Name: a.Name, State: string(a.State), CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt, Roles: roles}
}

// credentialsView is the one answer that carries a client secret.
type credentialsView struct {
	ClientID       uuid.UUID          `json:"client_id"`
	ClientSecret   string             `json:"client_secret"`
	ServiceAccount serviceAccountView `json:"service_account"`
}

type createServiceAccountRequest struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

func (a *api) adminCreateServiceAccount(c *gin.Context) {
	var req createServiceAccountRequest
	if !decodeJSON(c, &req) {
		return
	}
	roles, ok := a.bodyRoles(c, req.Roles)
	if !ok {
		return
	}
	acct, secret, err := a.Services.Create(c.Request.Context(), actor(c), req.Name, roles)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Location", "/admin/v1/service-accounts/"+acct.ID.String())
	c.JSON(http.StatusCreated, credentialsView{ClientID: acct.ID, ClientSecret: secret, ServiceAccount: serviceAccountOf(acct)})
}

// pathServiceAccount is the account :id names, with its roles; false
// (answered 404) when there is none.
func (a *api) pathServiceAccount(c *gin.Context) (serviceaccount.Account, bool) {
	return pathResource(a, c, serviceaccount.ErrNotFound, a.Services.ByID)
}

// respondServiceAccount answers the account id as listings show it.
func (a *api) respondServiceAccount(c *gin.Context, id uuid.UUID) {
	accts, err := a.Services.List(c.Request.Context())
	if err != nil {
		a.fail(c, err)
		return
	}
	i := slices.IndexFunc(accts, func(s serviceaccount.Account) bool { return s.ID == id })
	if i < 0 {
		a.fail(c, serviceaccount.ErrNotFound)
		return
	}
	c.JSON(http.StatusOK, serviceAccountOf(accts[i]))
}

func (a *api) adminGetServiceAccount(c *gin.Context) {
	if acct, ok := a.pathServiceAccount(c); ok {
		a.respondServiceAccount(c, acct.ID)
	}
}

func (a *api) adminRotateSecret(c *gin.Context) {
	acct, ok := a.pathServiceAccount(c)
	if !ok {
		return
	}
	acct, secret, err := a.Services.RotateSecret(c.Request.Context(), actor(c), acct.Name)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"client_id": acct.ID, "client_secret": secret})
}

func (a *api) adminDisableServiceAccount(c *gin.Context) {
	acct, ok := a.pathServiceAccount(c)
	if !ok {
		return
	}
	if _, err := a.Services.Disable(c.Request.Context(), actor(c), acct.Name); err != nil {
		a.fail(c, err)
		return
	}
	a.respondServiceAccount(c, acct.ID)
}
