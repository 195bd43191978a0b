package httpapi

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/decisionlog"
	"github.com/gaia-platform/iam/internal/tokens"
)

// decisionLogsPath is where OPA's decision-log plugin uploads, with the
// IAM as its service (the plugin's default resource).
const decisionLogsPath = "/logs"

// requireServiceToken refuses user tokens: decision logs are uploaded by
// machines, and a person's token must not be able to write them even if a
// role of theirs held the permission.
func (a *api) requireServiceToken(c *gin.Context) {
	if claims := c.MustGet(claimsKey).(tokens.Claims); claims.Type != tokens.TypeService {
		writeError(c, http.StatusForbidden, "forbidden", "decision logs are uploaded with a service account's token (client credentials), not a user's")
		return
	}
	c.Next()
}

// uploadDecisionLogs receives one upload of OPA's decision-log plugin,
// from a service token the policy finds valid, unrevoked and holding
// iam.decisions.write now (see the route in New).
func (a *api) uploadDecisionLogs(c *gin.Context) {
	claims := c.MustGet(claimsKey).(tokens.Claims)
	client, err := uuid.Parse(claims.Subject)
	if err != nil {
		a.fail(c, fmt.Errorf("%w: subject is not a service account id", tokens.ErrInvalidToken))
		return
	}
	ctx := c.Request.Context()
	receipt, err := a.DecisionLogs.Upload(ctx, client, c.Request.Body, c.GetHeader("Content-Encoding"), clientIP(c))
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

// adminListDecisionLogs lists stored decisions newest first, filtered by
// ?since and ?until (RFC 3339, the decision's own time), ?decision_id,
// ?path, ?outcome (allowed or denied) and ?subject (a username, a service
// account name or a subject id).
func (a *api) adminListDecisionLogs(c *gin.Context) {
	p, ok := readPage(c)
	if !ok {
		return
	}
	q := decisionlog.Query{DecisionID: c.Query("decision_id"), Path: c.Query("path"), Limit: p.limit}
	for _, f := range []struct {
		name string
		to   *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if v := c.Query(f.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				writeError(c, http.StatusBadRequest, "invalid_request", f.name+" must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
				return
			}
			*f.to = t
		}
	}
	switch v := c.Query("outcome"); v {
	case "":
	case "allowed", "denied":
		allowed := v == "allowed"
		q.Allowed = &allowed
	default:
		writeError(c, http.StatusBadRequest, "invalid_request", "outcome must be allowed or denied")
		return
	}
	ctx := c.Request.Context()
	var err error
	if q.Subject, err = a.DecisionLogSubject(ctx, c.Query("subject")); err != nil {
		a.fail(c, err)
		return
	}
	page, err := a.DecisionLogs.List(ctx, q, p.after)
	if errors.Is(err, decisionlog.ErrInvalidCursor) {
		writeError(c, http.StatusBadRequest, "invalid_request", "cursor must be a next_cursor this API returned")
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	out := pageResponse[decisionlog.Entry]{Items: append([]decisionlog.Entry{}, page.Entries...)}
	if page.Next != "" {
		out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(page.Next))
	}
	c.JSON(http.StatusOK, out)
}
