package console

import (
	"net/http"

	"github.com/gaia-platform/iam/internal/decisionlog"
)

type decisionsView struct {
	Filter  decisionFilter
	Entries []decisionlog.Entry
	Next    string
	Problem string
}

type decisionFilter struct {
	Subject, Path, Allowed, Since, Until string
}

// decisions are the decision logs services' OPAs uploaded, newest first:
// ?subject (a username, a service account name or an id), ?path,
// ?allowed (true or false), ?since, ?until, ?before (paging).
func (c *console) decisions(w http.ResponseWriter, r *http.Request, op *operator) {
	ctx := r.Context()
	q := r.URL.Query()
	v := decisionsView{Filter: decisionFilter{Subject: q.Get("subject"), Path: q.Get("path"), Allowed: q.Get("allowed"),
		Since: q.Get("since"), Until: q.Get("until")}}
	dq := decisionlog.Query{Path: v.Filter.Path, Limit: auditPageSize}
	since, until, ok := timeRange(v.Filter.Since, v.Filter.Until)
	dq.Since, dq.Until = since, until
	switch v.Filter.Allowed {
	case "":
	case "true", "false":
		allowed := v.Filter.Allowed == "true"
		dq.Allowed = &allowed
	default:
		v.Problem = "allowed must be true or false"
	}
	if !ok {
		v.Problem = timeProblem
	}
	var err error
	if v.Problem == "" {
		if dq.Subject, err = c.DecisionLogSubject(ctx, v.Filter.Subject); err != nil {
			c.fail(w, r, op, err)
			return
		}
		var page decisionlog.Page
		if page, err = c.DecisionLogs.List(ctx, dq, q.Get("before")); err != nil {
			v.Problem = err.Error()
		}
		v.Entries = page.Entries
		if page.Next != "" {
			v.Next = nextURL(r, "before", page.Next)
		}
	}
	status := http.StatusOK
	if v.Problem != "" {
		status = http.StatusBadRequest
	}
	c.render(w, r, op, status, "decisions", "Decision logs", v)
}
