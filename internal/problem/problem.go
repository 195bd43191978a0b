// Package problem is what a domain error means to someone at the other
// end of a request: a status, a stable code and a message safe to show.
// The admin API writes it as JSON, the console next to the form field;
// both map an error here, once. It never shows an unknown error's text.
package problem

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/bundle"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/serviceaccount"
	"github.com/gaia-platform/iam/internal/throttle"
	"github.com/gaia-platform/iam/internal/tokens"
)

// Problem is an error as a client is told it.
type Problem struct {
	Status     int
	Code       string // stable, for programs: "not_found", "conflict", ...
	Message    string // for people
	RetryAfter string // the Retry-After header, in seconds, when there is one
	// Known is false for an error no rule names: the caller logs it, and
	// the client sees only "internal server error".
	Known bool
}

// ThrottledMessage answers every throttled login alike: it never says
// whether the account name, which may not exist, or the IP is locked.
const ThrottledMessage = "too many failed logins; try again later"

// overloadRetryAfter is the Retry-After, in seconds, of a request shed
// because password hashing is at capacity: a hash takes tens of
// milliseconds, so the queue turns over many times a second.
const overloadRetryAfter = "1"

// databaseRetryAfter is the Retry-After, in seconds, of a request that
// found the database out of reach: a restart or a failover takes seconds.
const databaseRetryAfter = "2"

// Of is what err means to a client.
func Of(err error) Problem {
	var throttled *throttle.Throttled
	switch {
	case errors.As(err, &throttled):
		return Problem{Status: http.StatusTooManyRequests, Code: "too_many_attempts", Message: ThrottledMessage,
			RetryAfter: strconv.FormatInt(int64(throttled.RetryAfter/time.Second), 10), Known: true}
	case errors.Is(err, identity.ErrInvalidCredentials):
		return known(http.StatusUnauthorized, "invalid_credentials", "invalid username or password")
	case errors.Is(err, tokens.ErrInvalidGrant):
		return known(http.StatusUnauthorized, "invalid_grant", "the refresh token is invalid, expired or revoked")
	case errors.Is(err, tokens.ErrSessionNotFound):
		return known(http.StatusNotFound, "not_found", "no such session")
	case errors.Is(err, tokens.ErrInvalidToken):
		return known(http.StatusUnauthorized, "invalid_token", err.Error())
	case errors.Is(err, identity.ErrUserNotFound), errors.Is(err, authz.ErrRoleNotFound), errors.Is(err, authz.ErrPermissionNotFound),
		errors.Is(err, serviceaccount.ErrNotFound):
		return known(http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, identity.ErrUsernameTaken), errors.Is(err, serviceaccount.ErrNameTaken),
		errors.Is(err, authz.ErrRoleExists), errors.Is(err, authz.ErrPermissionExists),
		errors.Is(err, authz.ErrBuiltinRole), errors.Is(err, authz.ErrBuiltinPermission):
		return known(http.StatusConflict, "conflict", err.Error())
	case errors.Is(err, identity.ErrInvalidUsername), errors.Is(err, identity.ErrInvalidPassword),
		errors.Is(err, authz.ErrInvalidPermission), errors.Is(err, authz.ErrInvalidRole), errors.Is(err, serviceaccount.ErrInvalidName),
		errors.Is(err, tokens.ErrInvalidRevocation):
		return known(http.StatusBadRequest, "invalid_request", err.Error())
	case errors.Is(err, identity.ErrOverloaded):
		return Problem{Status: http.StatusServiceUnavailable, Code: "overloaded",
			Message: "the server is handling too many logins; retry after a second", RetryAfter: overloadRetryAfter, Known: true}
	case errors.Is(err, bundle.ErrUnavailable):
		return known(http.StatusServiceUnavailable, "not_ready", err.Error())
	case databaseUnavailable(err):
		return Problem{Status: http.StatusServiceUnavailable, Code: "unavailable",
			Message: "the database is unavailable; retry shortly", RetryAfter: databaseRetryAfter, Known: true}
	}
	return Problem{Status: http.StatusInternalServerError, Code: "internal_error", Message: "internal server error"}
}

func known(status int, code, message string) Problem {
	return Problem{Status: status, Code: code, Message: message, Known: true}
}
