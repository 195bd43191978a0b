package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/tokens"
)

// adminUserView is a user as the admin API shows one: never a hash.
type adminUserView struct {
	userView
	UpdatedAt time.Time `json:"updated_at"`
	Roles     []string  `json:"roles"`
}

// userWithRoles reads a user's roles into its view.
func (a *api) userWithRoles(c *gin.Context, u identity.User) (adminUserView, bool) {
	g, err := a.RBAC.Grants(c.Request.Context(), u.ID)
	if err != nil {
		a.fail(c, err)
		return adminUserView{}, false
	}
	return adminUserView{
		userView:  userView{ID: u.ID, Username: u.Username, State: string(u.State), CreatedAt: u.CreatedAt, LastLoginAt: u.LastLoginAt},
		UpdatedAt: u.UpdatedAt, Roles: g.Roles,
	}, true
}

// pathUser is the user :id names; false (answered 404) when there is none.
func (a *api) pathUser(c *gin.Context) (identity.User, bool) {
	return pathResource(a, c, identity.ErrUserNotFound, a.Users.ByID)
}

// respondUser answers the user id as it is now.
func (a *api) respondUser(c *gin.Context, status int, id uuid.UUID) {
	u, err := a.Users.ByID(c.Request.Context(), id)
	if err != nil {
		a.fail(c, err)
		return
	}
	if view, ok := a.userWithRoles(c, u); ok {
		c.JSON(status, view)
	}
}

func (a *api) adminListUsers(c *gin.Context) {
	p, ok := readPage(c)
	if !ok {
		return
	}
	users, err := a.Users.Page(c.Request.Context(), c.Query("search"), p.after, p.limit+1)
	if err != nil {
		a.fail(c, err)
		return
	}
	views := make(map[uuid.UUID]adminUserView, len(users))
	for _, u := range users {
		if views[u.ID], ok = a.userWithRoles(c, u); !ok {
			return
		}
	}
	respondPage(c, p, users, func(u identity.User) string { return u.Username },
		func(u identity.User) adminUserView { return views[u.ID] })
}

type createUserRequest struct {
	Username string   `json:"username"`
	Password string   `json:"password"`
	Roles    []string `json:"roles"`
}

func (a *api) adminCreateUser(c *gin.Context) {
	var req createUserRequest
	if !decodeJSON(c, &req) {
		return
	}
	ctx := c.Request.Context()
	roles, ok := a.bodyRoles(c, req.Roles)
	if !ok {
		return
	}
	u, err := a.Users.Create(ctx, actor(c), req.Username, req.Password, roles)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Location", "/admin/v1/users/"+u.ID.String())
	a.respondUser(c, http.StatusCreated, u.ID)
}

// bodyRoles resolves role names a request body gives to their stored
// names; an unknown one is the request's fault (400), not a missing
// resource.
func (a *api) bodyRoles(c *gin.Context, names []string) ([]string, bool) {
	roles, err := a.RBAC.RoleNames(c.Request.Context(), names)
	if errors.Is(err, authz.ErrRoleNotFound) {
		writeError(c, http.StatusBadRequest, "invalid_request", err.Error())
		return nil, false
	}
	if err != nil {
		a.fail(c, err)
		return nil, false
	}
	return roles, true
}

func (a *api) adminGetUser(c *gin.Context) {
	if u, ok := a.pathUser(c); ok {
		a.respondUser(c, http.StatusOK, u.ID)
	}
}

func (a *api) adminDisableUser(c *gin.Context) { a.changeUser(c, a.Users.Disable) }

func (a *api) adminEnableUser(c *gin.Context) { a.changeUser(c, a.Users.Enable) }

// changeUser applies change to the :id user and answers the user.
func (a *api) changeUser(c *gin.Context, change func(ctx context.Context, actor, username string) error) {
	u, ok := a.pathUser(c)
	if !ok {
		return
	}
	if err := change(c.Request.Context(), actor(c), u.Username); err != nil {
		a.fail(c, err)
		return
	}
	a.respondUser(c, http.StatusOK, u.ID)
}

type setPasswordRequest struct {
	Password string `json:"password"`
}

func (a *api) adminSetPassword(c *gin.Context) {
	u, ok := a.pathUser(c)
	if !ok {
		return
	}
	var req setPasswordRequest
	if !decodeJSON(c, &req) {
		return
	}
	if err := a.Users.SetPassword(c.Request.Context(), actor(c), u.Username, req.Password); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (a *api) adminAddUserRole(c *gin.Context) { a.changeUserRole(c, a.RBAC.AddUserRole) }

func (a *api) adminRemoveUserRole(c *gin.Context) { a.changeUserRole(c, a.RBAC.RemoveUserRole) }

// changeUserRole gives or takes the :role of the :id user and answers the
// user; doing what is already done changes nothing and succeeds.
func (a *api) changeUserRole(c *gin.Context, change func(ctx context.Context, actor string, user uuid.UUID, role string) (bool, error)) {
	u, ok := a.pathUser(c)
	if !ok {
		return
	}
	if _, err := change(c.Request.Context(), actor(c), u.ID, c.Param("role")); err != nil {
		a.fail(c, err)
		return
	}
	a.respondUser(c, http.StatusOK, u.ID)
}

func (a *api) adminListSessions(c *gin.Context) {
	p, ok := readPage(c)
	if !ok {
		return
	}
	u, ok := a.pathUser(c)
	if !ok {
		return
	}
	fams, err := a.Sessions.Active(c.Request.Context(), u.ID)
	if err != nil {
		a.fail(c, err)
		return
	}
	respondListPage(c, p, fams, func(f tokens.RefreshFamily) string { return f.ID.String() }, sessionOf)
}

func (a *api) adminEndSession(c *gin.Context) {
	u, ok := a.pathUser(c)
	if !ok {
		return
	}
	id, ok := a.pathID(c, "session", tokens.ErrSessionNotFound)
	if !ok {
		return
	}
	if err := a.Sessions.End(c.Request.Context(), actor(c), u.ID, id, clientIP(c)); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
