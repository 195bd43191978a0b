package httpapi

import (
	"bytes"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/tokens"
)

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// refresh exchanges a refresh token for a new access token and the
// refresh token's successor.
func (a *api) refresh(c *gin.Context) {
	var req refreshRequest
	if !decodeJSON(c, &req) {
		return
	}
	if req.RefreshToken == "" {
		writeError(c, http.StatusBadRequest, "invalid_request", "refresh_token is required")
		return
	}
	t, err := a.Signin.Refresh(c.Request.Context(), req.RefreshToken, clientIP(c))
	if err != nil {
		a.fail(c, err)
		return
	}
	writeTokens(c, t)
}

// logout revokes the bearer access token by its jti until it expires and,
// when the body names the session's refresh token, the session.
func (a *api) logout(c *gin.Context) {
	claims := c.MustGet(claimsKey).(tokens.Claims)
	var req refreshRequest
	body, ok := readBody(c)
	if !ok || (len(bytes.TrimSpace(body)) > 0 && !unmarshalJSON(c, body, &req)) {
		return
	}
	if err := a.Signin.Logout(c.Request.Context(), claims, req.RefreshToken, clientIP(c)); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type sessionView struct {
	ID         uuid.UUID `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

func sessionOf(f tokens.RefreshFamily) sessionView {
	return sessionView{ID: f.ID, CreatedAt: f.CreatedAt, LastUsedAt: f.LastUsedAt, ExpiresAt: f.ExpiresAt}
}

// callerID is the bearer token's user, or false (answered) for a
// service token.
func (a *api) callerID(c *gin.Context) (uuid.UUID, bool) {
	claims := c.MustGet(claimsKey).(tokens.Claims)
	id, err := uuid.Parse(claims.Subject)
	if claims.Type != tokens.TypeUser || err != nil {
		writeError(c, http.StatusForbidden, "forbidden", "this endpoint is for users; this is not a user's token")
		return uuid.Nil, false
	}
	return id, true
}

func (a *api) listSessions(c *gin.Context) {
	user, ok := a.callerID(c)
	if !ok {
		return
	}
	fams, err := a.Sessions.Active(c.Request.Context(), user)
	if err != nil {
		a.fail(c, err)
		return
	}
	out := make([]sessionView, 0, len(fams))
	for _, f := range fams {
		out = append(out, sessionOf(f))
	}
	c.JSON(http.StatusOK, gin.H{"sessions": out})
}

func (a *api) endSession(c *gin.Context) {
	user, ok := a.callerID(c)
	if !ok {
		return
	}
	id, ok := a.pathID(c, "id", tokens.ErrSessionNotFound)
	if !ok {
		return
	}
	if err := a.Sessions.End(c.Request.Context(), identity.Target(user), user, id, clientIP(c)); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
