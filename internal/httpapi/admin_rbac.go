package httpapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/gaia-platform/iam/internal/authz"
)

type roleView struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Builtin     bool     `json:"builtin"`
	Permissions []string `json:"permissions"`
}

func roleOf(r authz.Role) roleView {
	perms := r.Permissions
	if perms == nil {
		perms = []string{}
	}
	return roleView{Name: r.Name, Description: r.Description, Builtin: r.Builtin, Permissions: perms}
}

type permissionView struct {
	Code        string `json:"code"`
	Description string `json:"description"`
}

func permissionOf(p authz.Permission) permissionView {
	return permissionView(p)
}

// respondRole answers the role name as it is now.
func (a *api) respondRole(c *gin.Context, status int, name string) {
	r, err := a.RBAC.Role(c.Request.Context(), name)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(status, roleOf(r))
}

func (a *api) adminGetRole(c *gin.Context) { a.respondRole(c, http.StatusOK, c.Param("role")) }

type createRoleRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

type updateRoleRequest struct {
	Description *string `json:"description"`
}

func (a *api) adminCreateRole(c *gin.Context) {
	var req createRoleRequest
	if !decodeJSON(c, &req) {
		return
	}
	r, err := a.RBAC.CreateRole(c.Request.Context(), actor(c), req.Name, req.Description)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Location", "/admin/v1/roles/"+url.PathEscape(r.Name))
	c.JSON(http.StatusCreated, roleOf(r))
}

// adminUpdateRole changes what a PATCH body gives: the description.
func (a *api) adminUpdateRole(c *gin.Context) {
	var req updateRoleRequest
	if !decodeJSON(c, &req) {
		return
	}
	if req.Description == nil {
		writeError(c, http.StatusBadRequest, "invalid_request", "description is required: it is what a role update changes")
		return
	}
	if _, err := a.RBAC.SetRoleDescription(c.Request.Context(), actor(c), c.Param("role"), *req.Description); err != nil {
		a.fail(c, err)
		return
	}
	a.respondRole(c, http.StatusOK, c.Param("role"))
}

func (a *api) adminDeleteRole(c *gin.Context) {
	if err := a.RBAC.DeleteRole(c.Request.Context(), actor(c), c.Param("role")); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (a *api) adminGrantPermission(c *gin.Context) { a.changeRolePermission(c, a.RBAC.Grant) }

func (a *api) adminRevokePermission(c *gin.Context) { a.changeRolePermission(c, a.RBAC.Revoke) }

// changeRolePermission grants or revokes :permission of :role and answers
// the role; doing what is already done changes nothing and succeeds.
func (a *api) changeRolePermission(c *gin.Context, change func(ctx context.Context, actor, role, permission string) (bool, error)) {
	if _, err := change(c.Request.Context(), actor(c), c.Param("role"), c.Param("permission")); err != nil {
		a.fail(c, err)
		return
	}
	a.respondRole(c, http.StatusOK, c.Param("role"))
}

type permissionRequest struct {
	Code        string `json:"code"`
	Description string `json:"description"`
}

func (a *api) adminCreatePermission(c *gin.Context) {
	var req permissionRequest
	if !decodeJSON(c, &req) {
		return
	}
	p, err := a.RBAC.CreatePermission(c.Request.Context(), actor(c), req.Code, req.Description)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, permissionOf(p))
}

func (a *api) adminDeletePermission(c *gin.Context) {
	if err := a.RBAC.DeletePermission(c.Request.Context(), actor(c), c.Param("permission")); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
