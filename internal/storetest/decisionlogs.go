package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/decisionlog"
)

var decisionLogContract = []contractTest{
	{"InsertDecisionLogs_RoundTripsEveryFieldAndAuditsOnce", testDecisionLogRoundTrip},
	{"InsertDecisionLogs_DuplicatesPerClientAreSkipped", testDecisionLogDuplicates},
	{"DecisionLogs_FiltersAndPagesNewestFirst", testDecisionLogQuery},
	{"PruneDecisionLogs_DeletesByReceiptTimeAndAudits", testDecisionLogPrune},
	{"DecisionLoggerRole_IsBuiltinWithTheUploadPermission", testDecisionLoggerRole},
}

func decisionEntry(client uuid.UUID, id string, decided, received int, allowed bool, subject string) decisionlog.Entry {
	return decisionlog.Entry{ClientID: client, DecisionID: id, Path: "gaia/authz/decision",
		DecidedAt: at(decided), ReceivedAt: at(received), Allowed: &allowed, Subject: subject,
		Labels: map[string]string{}, Reasons: []string{}}
}

func uploadEvent(client uuid.UUID, n int) audit.Event {
	return audit.Event{At: at(n), Actor: "service_account:" + client.String(), Action: audit.DecisionLogsReceived,
		Details: map[string]any{"received": n}}
}

func insertDecisions(t *testing.T, s Store, entries ...decisionlog.Entry) int {
	t.Helper()
	n, err := decisionlog.Insert(t.Context(), s, entries, uploadEvent(entries[0].ClientID, len(entries)))
	if err != nil {
		t.Fatalf("InsertDecisionLogs: %v", err)
	}
	return n
}

func queryDecisions(t *testing.T, s Store, q decisionlog.Query) []string {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	got, err := s.DecisionLogs(t.Context(), q)
	if err != nil {
		t.Fatalf("DecisionLogs(%+v): %v", q, err)
	}
	ids := []string{}
	for _, e := range got {
		ids = append(ids, e.DecisionID)
	}
	return ids
}

func testDecisionLogRoundTrip(t *testing.T, s Store) {
	client := createServiceAccount(t, s, "opa-sidecar").ID
	denied := false
	full := decisionlog.Entry{ClientID: client, DecisionID: "d-1", Path: "gaia/authz/decision",
		DecidedAt: at(2), ReceivedAt: at(3), Allowed: &denied, Reasons: []string{"permission_missing", "token_revoked"},
		Subject: "7f8e", TokenID: "jti-1", Revision: "rev-1", Labels: map[string]string{"id": "opa-1", "version": "1.22.3"},
		Input:       json.RawMessage(`{"permission": "inventory.write", "nested": {"n": 1.50}}`),
		Result:      json.RawMessage(`{"allow": false, "reasons": ["permission_missing", "token_revoked"]}`),
		Error:       json.RawMessage(`{"code": "eval_error"}`),
		RequestedBy: "127.0.0.1:5000"}
	bare := decisionEntry(client, "d-2", 2, 3, true, "")
	bare.Allowed = nil
	if n := insertDecisions(t, s, full, bare); n != 2 {
		t.Fatalf("stored %d, want 2", n)
	}
	got, err := s.DecisionLogs(t.Context(), decisionlog.Query{Limit: 10})
	if err != nil || len(got) != 2 {
		t.Fatalf("DecisionLogs: %d entries, %v", len(got), err)
	}
	if got[0].ID <= got[1].ID {
		t.Errorf("ids %d, %d: want newest (highest) first", got[0].ID, got[1].ID)
	}
	for i, want := range []decisionlog.Entry{bare, full} {
		g := got[i]
		if g.ClientID != want.ClientID || g.DecisionID != want.DecisionID || g.Path != want.Path ||
			!g.DecidedAt.Equal(want.DecidedAt) || !g.ReceivedAt.Equal(want.ReceivedAt) ||
			!reflect.DeepEqual(g.Allowed, want.Allowed) || !reflect.DeepEqual(g.Reasons, want.Reasons) ||
			g.Subject != want.Subject || g.TokenID != want.TokenID || g.Revision != want.Revision ||
			!reflect.DeepEqual(g.Labels, want.Labels) || g.RequestedBy != want.RequestedBy ||
			!sameJSON(g.Input, want.Input) || !sameJSON(g.Result, want.Result) || !sameJSON(g.Error, want.Error) {
			t.Errorf("entry %s = %+v, want %+v", want.DecisionID, g, want)
		}
	}
	evs := events(t, s, audit.DecisionLogsReceived)
	if len(evs) != 1 || fmt.Sprint(evs[0].Details["stored"]) != "2" || fmt.Sprint(evs[0].Details["duplicates"]) != "0" ||
		fmt.Sprint(evs[0].Details["received"]) != "2" {
		t.Errorf("audit events %+v, want one with received 2, stored 2, duplicates 0", evs)
	}
}

// sameJSON compares JSON values, or two absent ones.
func sameJSON(a, b json.RawMessage) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

func testDecisionLogDuplicates(t *testing.T, s Store) {
	a := createServiceAccount(t, s, "opa-a").ID
	b := createServiceAccount(t, s, "opa-b").ID
	insertDecisions(t, s, decisionEntry(a, "d-1", 1, 1, true, ""), decisionEntry(a, "d-2", 1, 1, true, ""))
	// A retried upload stores nothing and audits nothing.
	if n := insertDecisions(t, s, decisionEntry(a, "d-1", 1, 2, true, ""), decisionEntry(a, "d-2", 1, 2, true, "")); n != 0 {
		t.Errorf("retried upload stored %d, want 0", n)
	}
	// Partly new: only the new one; another client's decision ids are its own.
	if n := insertDecisions(t, s, decisionEntry(a, "d-2", 1, 3, true, ""), decisionEntry(a, "d-3", 1, 3, true, "")); n != 1 {
		t.Errorf("upload with one new decision stored %d, want 1", n)
	}
	if n := insertDecisions(t, s, decisionEntry(b, "d-1", 1, 3, true, "")); n != 1 {
		t.Errorf("another client's d-1 stored %d, want 1", n)
	}
	wantStrings(t, "decisions", queryDecisions(t, s, decisionlog.Query{}), []string{"d-1", "d-3", "d-2", "d-1"})
	evs := events(t, s, audit.DecisionLogsReceived)
	if len(evs) != 3 || fmt.Sprint(evs[1].Details["stored"]) != "1" || fmt.Sprint(evs[1].Details["duplicates"]) != "1" {
		t.Errorf("audit events %+v, want 3, the second with stored 1 and duplicates 1", evs)
	}
}

func testDecisionLogQuery(t *testing.T, s Store) {
	c := createServiceAccount(t, s, "opa").ID
	insertDecisions(t, s,
		decisionEntry(c, "a", 1, 10, true, "alice"),
		decisionEntry(c, "b", 2, 10, false, "bob"),
		decisionEntry(c, "c", 3, 10, true, "bob"),
		decisionEntry(c, "d", 4, 10, false, "alice"))
	other := decisionEntry(c, "e", 5, 10, true, "alice")
	other.Path = "gaia/authz/allow"
	insertDecisions(t, s, other)
	yes, no := true, false
	for _, tc := range []struct {
		name string
		q    decisionlog.Query
		want []string
	}{
		{"all", decisionlog.Query{}, []string{"e", "d", "c", "b", "a"}},
		{"since", decisionlog.Query{Since: at(3)}, []string{"e", "d", "c"}},
		{"until", decisionlog.Query{Until: at(3)}, []string{"b", "a"}},
		{"window", decisionlog.Query{Since: at(2), Until: at(4)}, []string{"c", "b"}},
		{"decision id", decisionlog.Query{DecisionID: "c"}, []string{"c"}},
		{"path", decisionlog.Query{Path: "gaia/authz/allow"}, []string{"e"}},
		{"allowed", decisionlog.Query{Allowed: &yes}, []string{"e", "c", "a"}},
		{"denied", decisionlog.Query{Allowed: &no}, []string{"d", "b"}},
		{"subject", decisionlog.Query{Subject: "bob"}, []string{"c", "b"}},
		{"denied alice", decisionlog.Query{Subject: "alice", Allowed: &no}, []string{"d"}},
		{"limit", decisionlog.Query{Limit: 2}, []string{"e", "d"}},
		{"nothing", decisionlog.Query{Subject: "carol"}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStrings(t, tc.name, queryDecisions(t, s, tc.q), tc.want)
		})
	}
	// Paging: the cursor is the last id seen.
	first, err := s.DecisionLogs(t.Context(), decisionlog.Query{Limit: 2})
	if err != nil || len(first) != 2 {
		t.Fatalf("first page: %d, %v", len(first), err)
	}
	wantStrings(t, "second page", queryDecisions(t, s, decisionlog.Query{Limit: 2, Before: first[1].ID}), []string{"c", "b"})
}

func testDecisionLogPrune(t *testing.T, s Store) {
	c := createServiceAccount(t, s, "opa").ID
	// Decided long ago but received recently is kept: retention counts
	// from receipt, so an OPA's clock cannot keep or drop rows.
	insertDecisions(t, s, decisionEntry(c, "old", 5, 1, true, ""), decisionEntry(c, "older", 5, 2, true, ""))
	insertDecisions(t, s, decisionEntry(c, "new", 0, 3, true, ""))
	ev := audit.Event{At: at(10), Actor: "system", Action: audit.DecisionLogsPruned, Details: map[string]any{}}
	n, err := decisionlog.PruneBefore(t.Context(), s, at(3), ev)
	if err != nil || n != 2 {
		t.Fatalf("PruneDecisionLogs = %d, %v; want 2", n, err)
	}
	wantStrings(t, "kept", queryDecisions(t, s, decisionlog.Query{}), []string{"new"})
	if n, err := decisionlog.PruneBefore(t.Context(), s, at(3), ev); err != nil || n != 0 {
		t.Fatalf("second PruneDecisionLogs = %d, %v; want 0", n, err)
	}
	evs := events(t, s, audit.DecisionLogsPruned)
	if len(evs) != 1 || fmt.Sprint(evs[0].Details["deleted"]) != "2" {
		t.Errorf("audit events %+v, want one with deleted 2", evs)
	}
}

func testDecisionLoggerRole(t *testing.T, s Store) {
	r := role(t, s, "iam-decision-logger")
	if !r.Builtin {
		t.Errorf("iam-decision-logger is not built in")
	}
	wantStrings(t, "iam-decision-logger permissions", r.Permissions, []string{decisionlog.Permission})
}
