package httpapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/serviceaccount"
	"github.com/gaia-platform/iam/internal/tokens"
)

// adminRoutes mounts the admin API. Every route verifies the bearer token
// and then asks the policy bundle's decision rule for its permission.
func (a *api) adminRoutes(r *gin.Engine) {
	g := r.Group("/admin/v1", a.requireToken, a.syncBundle)
	route := func(method, path, permission string, h gin.HandlerFunc) {
		g.Handle(method, path, a.authorize(permission), h)
	}
	route(http.MethodGet, "/users", authz.PermUsersRead, a.adminListUsers)
	route(http.MethodPost, "/users", authz.PermUsersWrite, a.adminCreateUser)
	route(http.MethodGet, "/users/:id", authz.PermUsersRead, a.adminGetUser)
	route(http.MethodPost, "/users/:id/disable", authz.PermUsersWrite, a.adminDisableUser)
	route(http.MethodPost, "/users/:id/enable", authz.PermUsersWrite, a.adminEnableUser)
	route(http.MethodPost, "/users/:id/password", authz.PermUsersWrite, a.adminSetPassword)
	route(http.MethodPut, "/users/:id/roles/:role", authz.PermUsersWrite, a.adminAddUserRole)
	route(http.MethodDelete, "/users/:id/roles/:role", authz.PermUsersWrite, a.adminRemoveUserRole)
	route(http.MethodGet, "/users/:id/sessions", authz.PermUsersRead, a.adminListSessions)
	route(http.MethodDelete, "/users/:id/sessions/:session", authz.PermUsersWrite, a.adminEndSession)

	route(http.MethodGet, "/roles", authz.PermUsersRead, listAll(a, a.RBAC.Roles, func(r authz.Role) string { return r.Name }, roleOf))
	route(http.MethodPost, "/roles", authz.PermRolesWrite, a.adminCreateRole)
	route(http.MethodGet, "/roles/:role", authz.PermUsersRead, a.adminGetRole)
	route(http.MethodPatch, "/roles/:role", authz.PermRolesWrite, a.adminUpdateRole)
	route(http.MethodDelete, "/roles/:role", authz.PermRolesWrite, a.adminDeleteRole)
	route(http.MethodPut, "/roles/:role/permissions/:permission", authz.PermRolesWrite, a.adminGrantPermission)
	route(http.MethodDelete, "/roles/:role/permissions/:permission", authz.PermRolesWrite, a.adminRevokePermission)

	route(http.MethodGet, "/permissions", authz.PermUsersRead, listAll(a, a.RBAC.Permissions, func(p authz.Permission) string { return p.Code }, permissionOf))
	route(http.MethodPost, "/permissions", authz.PermRolesWrite, a.adminCreatePermission)
	route(http.MethodDelete, "/permissions/:permission", authz.PermRolesWrite, a.adminDeletePermission)

	route(http.MethodGet, "/service-accounts", authz.PermUsersRead, listAll(a, a.Services.List, func(s serviceaccount.Account) string { return s.Name }, serviceAccountOf))
	route(http.MethodPost, "/service-accounts", authz.PermUsersWrite, a.adminCreateServiceAccount)
	route(http.MethodGet, "/service-accounts/:id", authz.PermUsersRead, a.adminGetServiceAccount)
	route(http.MethodPost, "/service-accounts/:id/rotate-secret", authz.PermUsersWrite, a.adminRotateSecret)
	route(http.MethodPost, "/service-accounts/:id/disable", authz.PermUsersWrite, a.adminDisableServiceAccount)

	route(http.MethodGet, "/revocations", authz.PermUsersRead, a.adminListRevocations)
	route(http.MethodPost, "/revocations", authz.PermUsersWrite, a.adminCreateRevocation)

	route(http.MethodGet, "/audit-events", authz.PermAuditRead, a.adminListAuditEvents)
	route(http.MethodGet, "/decision-logs", authz.PermAuditRead, a.adminListDecisionLogs)
}

// authorize lets the request through when the policy allows its bearer
// token permission: 401 for a token the policy finds invalid, expired or
// revoked, 403 for one that lacks the permission.
func (a *api) authorize(permission string) gin.HandlerFunc {
	return func(c *gin.Context) {
		d, err := a.Authorizer.Decide(c.Request.Context(), c.GetString(rawTokenKey), permission)
		if err != nil {
			a.fail(c, err)
			return
		}
		switch problems := tokenProblems(d); {
		case d.Allow:
			c.Next()
		case problems != "":
			a.fail(c, fmt.Errorf("%w: %s", tokens.ErrInvalidToken, problems))
		default:
			writeError(c, http.StatusForbidden, "forbidden", "this token does not carry the permission "+permission)
		}
	}
}

// actor is the caller as audit events record it.
func actor(c *gin.Context) string {
	claims := c.MustGet(claimsKey).(tokens.Claims)
	id, err := uuid.Parse(claims.Subject)
	switch {
	case err != nil:
		return claims.Type + ":" + claims.Subject
	case claims.Type == tokens.TypeService:
		return serviceaccount.Target(id)
	}
	return identity.Target(id)
}

// Pagination: ?limit= (1 to maxPageSize) and ?cursor=, an opaque value
// taken from the previous page's next_cursor.
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

type page struct {
	limit int
	after string // the last key of the previous page; "" for the first
}

// pageResponse is every list: a page of items and, when more follow, the
// cursor of the next page.
type pageResponse[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// pathID is the path parameter name as an id; false, answered with
// notFound, when it is not one: nothing has such an id.
func (a *api) pathID(c *gin.Context, name string, notFound error) (uuid.UUID, bool) {
	id, err := uuid.Parse(c.Param(name))
	if err != nil {
		a.fail(c, notFound)
		return uuid.Nil, false
	}
	return id, true
}

// pathResource is what byID finds for the path parameter id; false,
// answered with notFound or byID's error, when it finds nothing.
func pathResource[T any](a *api, c *gin.Context, notFound error, byID func(context.Context, uuid.UUID) (T, error)) (T, bool) {
	var found T
	id, ok := a.pathID(c, "id", notFound)
	if !ok {
		return found, false
	}
	found, err := byID(c.Request.Context(), id)
	if err != nil {
		a.fail(c, err)
		return found, false
	}
	return found, true
}

// readPage reads ?limit and ?cursor, answering 400 itself when either is
// malformed.
func readPage(c *gin.Context) (page, bool) {
	p := page{limit: defaultPageSize}
	if v, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			writeError(c, http.StatusBadRequest, "invalid_request", fmt.Sprintf("limit must be a whole number from 1 to %d", maxPageSize))
			return p, false
		}
		p.limit = n
	}
	if v, ok := c.GetQuery("cursor"); ok {
		after, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || len(after) == 0 || !isText(string(after)) {
			writeError(c, http.StatusBadRequest, "invalid_request", "cursor must be a next_cursor this API returned")
			return p, false
		}
		p.after = string(after)
	}
	return p, true
}

// respondPage answers items, of which at most p.limit are shown: one more
// means another page follows, starting after the key of the last shown.
func respondPage[T, V any](c *gin.Context, p page, items []T, key func(T) string, view func(T) V) {
	out := pageResponse[V]{Items: make([]V, 0, min(len(items), p.limit))}
	for _, it := range items[:min(len(items), p.limit)] {
		out.Items = append(out.Items, view(it))
	}
	if len(items) > p.limit {
		out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(key(items[p.limit-1])))
	}
	c.JSON(http.StatusOK, out)
}

// respondListPage pages a whole list read into memory (roles, permissions,
// service accounts, sessions, revocations: tables an administrator
// curates) in the order of key.
func respondListPage[T, V any](c *gin.Context, p page, items []T, key func(T) string, view func(T) V) {
	slices.SortFunc(items, func(x, y T) int { return strings.Compare(key(x), key(y)) })
	start, _ := slices.BinarySearchFunc(items, p.after, func(it T, k string) int { return strings.Compare(key(it), k) })
	if start < len(items) && p.after != "" && key(items[start]) == p.after {
		start++
	}
	respondPage(c, p, items[start:], key, view)
}

// listAll answers a page of the whole list read reads, in the order of key.
func listAll[T, V any](a *api, read func(context.Context) ([]T, error), key func(T) string, view func(T) V) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := readPage(c)
		if !ok {
			return
		}
		items, err := read(c.Request.Context())
		if err != nil {
			a.fail(c, err)
			return
		}
		respondListPage(c, p, items, key, view)
	}
}
