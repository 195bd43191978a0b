package console

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/serviceaccount"
)

// auditPageSize is how many events a page of the trail shows.
const auditPageSize = 50

// timeProblem is a since or until that filterTime cannot read.
const timeProblem = "since and until must be times such as 2026-01-02T15:04 (UTC)"

// timeRange is a filter's since and until; false when either is not a
// time.
func timeRange(since, until string) (time.Time, time.Time, bool) {
	s, okSince := filterTime(since)
	u, okUntil := filterTime(until)
	return s, u, okSince && okUntil
}

// filterTime is how the filters' time fields read: the browser's
// datetime-local input, taken as UTC, or RFC 3339.
func filterTime(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, true
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

type chainStatus struct {
	Events int
	Error  string // "" when the chain verifies
}

type auditView struct {
	Names   map[string]string // "user:<id>" and "service_account:<id>" to names
	Chain   chainStatus
	Filter  auditFilter
	Events  []audit.Stored
	Next    string // the next page's URL, "" on the last
	Problem string // a filter that could not be read
}

type auditFilter struct {
	Actor, Action, Target, Since, Until string
}

// audit is the trail, newest first, with iam audit verify's answer on
// top: ?actor (a username or an actor as recorded), ?action (an action
// or a dotted prefix), ?target, ?since and ?until, ?before (paging).
func (c *console) audit(w http.ResponseWriter, r *http.Request, op *operator) {
	ctx := r.Context()
	q := r.URL.Query()
	v := auditView{Filter: auditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Target: q.Get("target"),
		Since: q.Get("since"), Until: q.Get("until")}}
	n, err := c.VerifyAudit(ctx)
	v.Chain = chainStatus{Events: n}
	if err != nil {
		v.Chain.Error = err.Error()
	}
	tq := audit.TailQuery{Type: v.Filter.Action, Target: v.Filter.Target, Limit: auditPageSize + 1}
	since, until, ok := timeRange(v.Filter.Since, v.Filter.Until)
	before, err := strconv.ParseInt(q.Get("before"), 10, 64)
	switch {
	case !ok:
		v.Problem = timeProblem
	case q.Get("before") != "" && (err != nil || before < 1):
		v.Problem = "before must be the id of an event"
	}
	if v.Problem != "" {
		c.render(w, r, op, http.StatusBadRequest, "audit", "Audit trail", v)
		return
	}
	tq.Since, tq.Until, tq.Before = since, until, before
	if tq.Actor, err = c.Users.Actor(ctx, v.Filter.Actor); err != nil {
		c.fail(w, r, op, err)
		return
	}
	if v.Events, err = c.AuditTrail.Newest(ctx, tq); err != nil {
		c.fail(w, r, op, err)
		return
	}
	if len(v.Events) > auditPageSize {
		v.Events = v.Events[:auditPageSize]
		v.Next = nextURL(r, "before", strconv.FormatInt(v.Events[auditPageSize-1].ID, 10))
	}
	if v.Names, err = c.names(ctx, v.Events); err != nil {
		c.fail(w, r, op, err)
		return
	}
	c.render(w, r, op, http.StatusOK, "audit", "Audit trail", v)
}

// nextURL is the request's page with key set to value: the next page,
// with the same filters.
func nextURL(r *http.Request, key, value string) string {
	q := r.URL.Query()
	q.Del("notice")
	q.Set(key, value)
	return r.URL.Path + "?" + q.Encode()
}

// names are the current names of the users and service accounts the
// events' actors and targets are, for people to read beside the ids the
// trail records. One that is gone has no name.
func (c *console) names(ctx context.Context, events []audit.Stored) (map[string]string, error) {
	names := map[string]string{}
	for _, e := range events {
		for _, who := range []string{e.Actor, e.Target} {
			if _, seen := names[who]; seen {
				continue
			}
			kind, raw, _ := strings.Cut(who, ":")
			id, err := uuid.Parse(raw)
			if err != nil {
				continue
			}
			switch kind {
			case "user":
				u, err := c.Users.ByID(ctx, id)
				if err != nil && !errors.Is(err, identity.ErrUserNotFound) {
					return nil, err
				}
				names[who] = u.Username
			case "service_account":
				a, err := c.Services.ByID(ctx, id)
				if err != nil && !errors.Is(err, serviceaccount.ErrNotFound) {
					return nil, err
				}
				names[who] = a.Name
			}
		}
	}
	return names, nil
}
