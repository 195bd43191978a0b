package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gaia-platform/iam/internal/audit"
)

type auditEventView struct {
	ID      int64          `json:"id"`
	At      time.Time      `json:"at"`
	Actor   string         `json:"actor"`
	Action  string         `json:"action"`
	Target  string         `json:"target"`
	IP      string         `json:"ip"`
	Details map[string]any `json:"details"`
}

func auditEventOf(e audit.Stored) auditEventView {
	return auditEventView{ID: e.ID, At: e.At.UTC(), Actor: e.Actor, Action: e.Action, Target: e.Target, IP: e.IP, Details: e.Details}
}

// adminListAuditEvents lists events newest first, filtered by ?actor (a
// username or an actor as recorded), ?type (an action or a dotted prefix
// of actions) and ?since (RFC 3339).
func (a *api) adminListAuditEvents(c *gin.Context) {
	p, ok := readPage(c)
	if !ok {
		return
	}
	q := audit.TailQuery{Type: c.Query("type"), Limit: p.limit + 1}
	if p.after != "" {
		before, err := strconv.ParseInt(p.after, 10, 64)
		if err != nil || before < 1 {
			writeError(c, http.StatusBadRequest, "invalid_request", "cursor must be a next_cursor this API returned")
			return
		}
		q.Before = before
	}
	if v := c.Query("since"); v != "" {
		since, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeError(c, http.StatusBadRequest, "invalid_request", "since must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
			return
		}
		q.Since = since
	}
	ctx := c.Request.Context()
	var err error
	if q.Actor, err = a.Users.Actor(ctx, c.Query("actor")); err != nil {
		a.fail(c, err)
		return
	}
	events, err := a.AuditTrail.Newest(ctx, q)
	if err != nil {
		a.fail(c, err)
		return
	}
	respondPage(c, p, events, func(e audit.Stored) string { return strconv.FormatInt(e.ID, 10) }, auditEventOf)
}
