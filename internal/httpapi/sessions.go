package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
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
	resp, err := a.renew(c, req.RefreshToken)
	if err != nil {
		a.fail(c, err)
		return
	}
	writeTokens(c, resp)
}

// renew spends a refresh token (rotation, reuse detection and grace are
// the store's) and signs a fresh access token for the session's user,
// who must still be active.
func (a *api) renew(c *gin.Context, raw string) (tokenResponse, error) {
	ctx := c.Request.Context()
	next, fam, err := a.Sessions.Rotate(ctx, raw, clientIP(c))
	if err != nil {
		return tokenResponse{}, err
	}
	user, err := a.Users.ByID(ctx, fam.UserID)
	if errors.Is(err, identity.ErrUserNotFound) || (err == nil && user.State != identity.StateActive) {
		return tokenResponse{}, tokens.ErrInvalidGrant
	}
	if err != nil {
		return tokenResponse{}, err
	}
	return a.userTokens(ctx, user, next)
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
	ctx := c.Request.Context()
	if err := a.revokeAccess(c, claims, "logout"); err != nil {
		a.fail(c, err)
		return
	}
	if req.RefreshToken != "" && claims.Type == tokens.TypeUser {
		user, err := uuid.Parse(claims.Subject)
		if err != nil {
			a.fail(c, fmt.Errorf("%w: subject is not a user id", tokens.ErrInvalidToken))
			return
		}
		// A token that is unknown, another user's or already over has no
		// session of the caller's to end: logout still succeeds.
		err = a.Sessions.EndByToken(ctx, user, req.RefreshToken, clientIP(c))
		if err != nil && !errors.Is(err, tokens.ErrInvalidGrant) && !errors.Is(err, tokens.ErrSessionNotFound) {
			a.fail(c, err)
			return
		}
	}
	c.Status(http.StatusNoContent)
}

// revokeAccess voids the access token of claims until it expires: its
// jti goes into the bundle's revocation list.
func (a *api) revokeAccess(c *gin.Context, claims tokens.Claims, reason string) error {
	ev := audit.Event{At: a.Now().UTC(), Actor: claims.Type + ":" + claims.Subject, Action: audit.TokenRevoked,
		Target: "jti:" + claims.ID, IP: clientIP(c), Details: map[string]any{"reason": reason}}
	_, err := a.Revocations.RevokeToken(c.Request.Context(), claims.ID, claims.ExpiresAt, ev)
	return err
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
