package httpapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/signin"
)

type passwordChangeRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
	// RefreshToken names the caller's own session, which stays open; an
	// access token does not say which session it came from.
	RefreshToken string `json:"refresh_token"`
}

type passwordChangeResponse struct {
	SessionsRevoked int        `json:"sessions_revoked"`
	KeptSession     *uuid.UUID `json:"kept_session"`
}

// changePassword is a user changing their own password. The current
// password is checked under the login throttle, as a login would be.
func (a *api) changePassword(c *gin.Context) {
	id, ok := a.callerID(c)
	if !ok {
		return
	}
	var req passwordChangeRequest
	if !decodeJSON(c, &req) {
		return
	}
	if req.CurrentPassword == "" || req.NewPassword == "" {
		writeError(c, http.StatusBadRequest, "invalid_request", "current_password and new_password are required")
		return
	}
	changed, err := a.Signin.ChangePassword(c.Request.Context(), signin.PasswordChange{
		User: id, Current: req.CurrentPassword, New: req.NewPassword, Keep: req.RefreshToken, IP: clientIP(c),
	})
	switch {
	case errors.Is(err, identity.ErrInvalidCredentials):
		// 403, not 401: the bearer token is fine, and a client must not
		// take this for a reason to refresh it.
		writeError(c, http.StatusForbidden, "invalid_credentials", "the current password is wrong")
		return
	case err != nil:
		a.fail(c, err)
		return
	}
	resp := passwordChangeResponse{SessionsRevoked: changed.SessionsEnded}
	if changed.Kept != uuid.Nil {
		resp.KeptSession = &changed.Kept
	}
	c.JSON(http.StatusOK, resp)
}
