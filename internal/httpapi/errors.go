package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/bundle"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/serviceaccount"
	"github.com/gaia-platform/iam/internal/throttle"
	"github.com/gaia-platform/iam/internal/tokens"
)

// errorBody is every error response: a stable code and a human message.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// overloadRetryAfter is the Retry-After, in seconds, of a request shed
// because password hashing is at capacity: a hash takes tens of
// milliseconds, so the queue turns over many times a second.
const overloadRetryAfter = "1"

func writeError(c *gin.Context, status int, code, message string) {
	c.AbortWithStatusJSON(status, errorBody{Error: code, Message: message})
}

// throttledMessage answers every throttled login alike: it never says
// whether the account name, which may not exist, or the IP is locked.
const throttledMessage = "too many failed logins; try again later"

// retryAfter is the Retry-After header of t, in whole seconds.
func retryAfter(t *throttle.Throttled) string {
	return strconv.FormatInt(int64(t.RetryAfter/time.Second), 10)
}

// fail maps a domain error to its response. Unknown errors are logged and
// answered with a generic 500 that reveals nothing.
func (a *api) fail(c *gin.Context, err error) {
	var throttled *throttle.Throttled
	switch {
	case errors.As(err, &throttled):
		c.Header("Retry-After", retryAfter(throttled))
		writeError(c, http.StatusTooManyRequests, "too_many_attempts", throttledMessage)
	case errors.Is(err, identity.ErrInvalidCredentials):
		writeError(c, http.StatusUnauthorized, "invalid_credentials", "invalid username or password")
	case errors.Is(err, tokens.ErrInvalidGrant):
		writeError(c, http.StatusUnauthorized, "invalid_grant", "the refresh token is invalid, expired or revoked")
	case errors.Is(err, tokens.ErrSessionNotFound):
		writeError(c, http.StatusNotFound, "not_found", "no such session")
	case errors.Is(err, tokens.ErrInvalidToken):
		c.Header("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeError(c, http.StatusUnauthorized, "invalid_token", err.Error())
	case errors.Is(err, identity.ErrUserNotFound), errors.Is(err, authz.ErrRoleNotFound), errors.Is(err, authz.ErrPermissionNotFound),
		errors.Is(err, serviceaccount.ErrNotFound):
		writeError(c, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, identity.ErrUsernameTaken), errors.Is(err, serviceaccount.ErrNameTaken),
		errors.Is(err, authz.ErrRoleExists), errors.Is(err, authz.ErrPermissionExists),
		errors.Is(err, authz.ErrBuiltinRole), errors.Is(err, authz.ErrBuiltinPermission):
		writeError(c, http.StatusConflict, "conflict", err.Error())
	case errors.Is(err, identity.ErrInvalidUsername), errors.Is(err, identity.ErrInvalidPassword),
		errors.Is(err, authz.ErrInvalidPermission), errors.Is(err, authz.ErrInvalidRole), errors.Is(err, serviceaccount.ErrInvalidName),
		errors.Is(err, tokens.ErrInvalidRevocation):
		writeError(c, http.StatusBadRequest, "invalid_request", err.Error())
	case errors.Is(err, identity.ErrOverloaded):
		c.Header("Retry-After", overloadRetryAfter)
		writeError(c, http.StatusServiceUnavailable, "overloaded", "the server is handling too many logins; retry after a second")
	case errors.Is(err, bundle.ErrUnavailable):
		writeError(c, http.StatusServiceUnavailable, "not_ready", err.Error())
	default:
		a.Log.Error("request failed", "path", c.Request.URL.Path, "err", err)
		writeError(c, http.StatusInternalServerError, "internal_error", "internal server error")
	}
}
