package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/decisionlog"
	"github.com/gaia-platform/iam/internal/serviceaccount"
	"github.com/gaia-platform/iam/internal/tokens"
)

// decisionLogsPath is where OPA's decision-log plugin uploads, with the
// IAM as its service (the plugin's default resource).
const decisionLogsPath = "/logs"

// uploadDecisionLogs receives one upload of OPA's decision-log plugin. The
// bearer must be a service token whose account is active and holds
// iam.decisions.write now, not only when the token was issued.
func (a *api) uploadDecisionLogs(c *gin.Context) {
	claims := c.MustGet(claimsKey).(tokens.Claims)
	if claims.Type != tokens.TypeService {
		writeError(c, http.StatusForbidden, "forbidden", "decision logs are uploaded with a service account's token (client credentials), not a user's")
		return
	}
	client, err := uuid.Parse(claims.Subject)
	if err != nil {
		a.fail(c, fmt.Errorf("%w: subject is not a service account id", tokens.ErrInvalidToken))
		return
	}
	ctx := c.Request.Context()
	grants, err := a.Services.ActiveGrants(ctx, client)
	if errors.Is(err, serviceaccount.ErrNotFound) {
		a.fail(c, fmt.Errorf("%w: the service account no longer exists or is disabled", tokens.ErrInvalidToken))
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	if !slices.Contains(grants.Permissions, decisionlog.Permission) {
		writeError(c, http.StatusForbidden, "forbidden", "missing permission "+decisionlog.Permission)
		return
	}
	receipt, err := a.DecisionLogs.Upload(ctx, client, c.Request.Body, c.GetHeader("Content-Encoding"), c.ClientIP())
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(c, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the request body is larger than %d bytes", tooBig.Limit))
	case errors.Is(err, decisionlog.ErrTooLarge):
		writeError(c, http.StatusRequestEntityTooLarge, "too_large", err.Error())
	case errors.Is(err, decisionlog.ErrMalformed):
		writeError(c, http.StatusBadRequest, "invalid_request", err.Error())
	case err != nil:
		a.fail(c, err)
	default:
		c.JSON(http.StatusOK, gin.H{"received": receipt.Received, "stored": receipt.Stored})
	}
}
