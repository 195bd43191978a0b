package cli_test

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/testkit"
)

// opaEvent is a decision as OPA's decision-log plugin reports it.
func opaEvent(id, token, permission string, allow bool, reasons ...string) map[string]any {
	return map[string]any{
		"decision_id": id,
		"labels":      map[string]string{"id": "opa-7", "version": "1.22.3"},
		"bundles":     map[string]any{"gaia": map[string]string{"revision": "rev-42"}},
		"path":        "gaia/authz/decision",
		"input": map[string]any{"token": token, "permission": permission,
			"headers": map[string]string{"authorization": "Bearer " + token}},
		"result":           map[string]any{"allow": allow, "reasons": append([]string{}, reasons...)},
		"requested_by":     "127.0.0.1:40522",
		"timestamp":        time.Now().UTC().Format(time.RFC3339Nano),
		"metrics":          map[string]any{"timer_rego_query_eval_ns": 51234},
		"nd_builtin_cache": map[string]any{"time.now_ns": map[string]any{"[]": 1700000000000000000}},
	}
}

func gzipJSON(t *testing.T, v any) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func gzipped(t *testing.T, raw []byte) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// upload posts body to /logs as OPA does: gzip-compressed JSON.
func upload(t *testing.T, srv *testkit.Server, token, body string, header ...string) testkit.Response {
	t.Helper()
	h := []string{"Content-Type", "application/json", "Content-Encoding", "gzip"}
	if token != "" {
		h = append(h, "Authorization", "Bearer "+token)
	}
	return srv.Do(t, http.MethodPost, "/logs", body, append(h, header...)...)
}

// decisionLogs runs `iam decision-logs list args...` and decodes its lines.
func decisionLogs(t *testing.T, e *testkit.IAM, args ...string) ([]map[string]any, string) {
	t.Helper()
	return e.JSONLines(append([]string{"decision-logs", "list"}, args...)...)
}

func decisionIDs(entries []map[string]any) []any {
	ids := []any{}
	for _, e := range entries {
		ids = append(ids, e["decision_id"])
	}
	return ids
}

func TestDecisionLogs_GzipUploadIsStoredRedactedQueryableAndIdempotent(t *testing.T) {
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	srv := e.Serve()
	opa := srv.ServiceToken(t, e.NewService("opa-sidecar", "iam-decision-logger"))
	alice := srv.Token(t, "alice", alicePassword)
	allowed, denied := uuid.NewString(), uuid.NewString()
	body := gzipJSON(t, []any{
		opaEvent(allowed, alice, "inventory.read", true),
		opaEvent(denied, alice, "inventory.write", false, "permission_missing"),
	})

	r := upload(t, srv, opa, body)
	if r.Status != http.StatusOK || string(r.Body) != `{"received":2,"stored":2}` {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	// OPA retries an upload whose answer it lost: nothing is stored twice.
	r = upload(t, srv, opa, body)
	if r.Status != http.StatusOK || string(r.Body) != `{"received":2,"stored":0}` {
		t.Fatalf("retried upload: %d %s", r.Status, r.Body)
	}

	entries, out := decisionLogs(t, e)
	testkit.WantStrings(t, "decisions, newest first", decisionIDs(entries), denied, allowed)
	sig := alice[strings.LastIndex(alice, ".")+1:]
	if strings.Contains(out, sig) || strings.Contains(out, "eyJ") {
		t.Fatalf("a stored decision holds the token: %s", out)
	}
	aliceID := e.UserID("alice")
	jti := srv.Claims(t, alice)["jti"]
	d := entries[0]
	input, _ := d["input"].(map[string]any)
	result, _ := d["result"].(map[string]any)
	if d["subject"] != aliceID || d["token_id"] != jti || d["allowed"] != false || d["path"] != "gaia/authz/decision" ||
		d["revision"] != "rev-42" || d["requested_by"] != "127.0.0.1:40522" || result["allow"] != false {
		t.Errorf("stored decision %v", d)
	}
	if _, ok := input["token"]; ok || input["permission"] != "inventory.write" {
		t.Errorf("stored input %v: want the permission and no token", input)
	}
	if h, _ := input["headers"].(map[string]any); h["authorization"] != "Bearer [redacted]" {
		t.Errorf("stored input headers %v: want the token in them redacted", input["headers"])
	}
	testkit.WantStrings(t, "reasons", d["reasons"], "permission_missing")
	if labels, _ := d["labels"].(map[string]any); labels["id"] != "opa-7" {
		t.Errorf("labels %v", d["labels"])
	}
	if _, ok := d["metrics"]; ok {
		t.Errorf("metrics stored: %v", d)
	}

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--outcome", "denied"}, []string{denied}},
		{[]string{"--outcome", "allowed", "--subject", "alice"}, []string{allowed}},
		{[]string{"--subject", "bob"}, []string{}},
		{[]string{"--decision-id", allowed}, []string{allowed}},
		{[]string{"--path", "gaia/authz/allow"}, []string{}},
		{[]string{"--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, []string{}},
		{[]string{"--until", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, []string{denied, allowed}},
	} {
		got, _ := decisionLogs(t, e, tc.args...)
		testkit.WantStrings(t, strings.Join(tc.args, " "), decisionIDs(got), tc.want...)
	}
	first := e.Run("", "decision-logs", "list", "--limit", "1")
	cursor := strings.TrimSpace(strings.TrimPrefix(strings.TrimSuffix(first.Stderr, " for the next page\n"), "more: add --cursor"))
	if first.Code != 0 || cursor == "" {
		t.Fatalf("first page: exit %d, stderr %q", first.Code, first.Stderr)
	}
	second, _ := decisionLogs(t, e, "--limit", "1", "--cursor", cursor)
	testkit.WantStrings(t, "second page", decisionIDs(second), allowed)

	// The admin API answers the same queries.
	e.Must(rootPassword+"\n", "createsuperuser", "--username", "root", "--password-stdin")
	root := srv.Token(t, "root", rootPassword)
	for query, want := range map[string][]string{
		"":                                    {denied, allowed},
		"?outcome=denied&subject=alice":       {denied},
		"?outcome=allowed&subject=" + aliceID: {allowed},
		"?decision_id=" + allowed:             {allowed},
		"?path=gaia/authz/allow":              {},
		"?until=" + url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)): {},
	} {
		var body struct {
			Items []map[string]any `json:"items"`
		}
		if err := json.Unmarshal(srv.MustAdmin(t, root, http.MethodGet, "/decision-logs"+query, "", http.StatusOK).Body, &body); err != nil {
			t.Fatal(err)
		}
		testkit.WantStrings(t, "GET /admin/v1/decision-logs"+query, decisionIDs(body.Items), want...)
	}
	firstPage := srv.MustAdmin(t, root, http.MethodGet, "/decision-logs?limit=1", "", http.StatusOK).JSON(t)
	next, _ := firstPage["next_cursor"].(string)
	secondPage := srv.MustAdmin(t, root, http.MethodGet, "/decision-logs?limit=1&cursor="+next, "", http.StatusOK).JSON(t)
	if items, _ := secondPage["items"].([]any); len(items) != 1 || items[0].(map[string]any)["decision_id"] != allowed || secondPage["next_cursor"] != nil {
		t.Errorf("second page %v, want the older decision and no further cursor", secondPage)
	}
	for _, bad := range []string{"?outcome=maybe", "?since=yesterday", "?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("x")), "?limit=0"} {
		testkit.AssertError(t, srv.Admin(t, root, http.MethodGet, "/decision-logs"+bad, ""), http.StatusBadRequest, "invalid_request")
	}

	evs := e.AuditEvents("decision_logs.received")
	if len(evs) != 1 {
		t.Fatalf("audit: %v, want one decision_logs.received (the retry stored nothing)", evs)
	}
	if det, _ := evs[0]["details"].(map[string]any); det["stored"] != float64(2) || det["received"] != float64(2) {
		t.Errorf("audit details %v", evs[0]["details"])
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDecisionLogs_OnlyAServiceTokenWithThePermissionUploads(t *testing.T) {
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	e.Must("cli-admin-pw-1234\n", "createsuperuser", "--username", "root", "--password-stdin")
	srv := e.Serve()
	body := gzipJSON(t, []any{opaEvent(uuid.NewString(), "", "inventory.read", true)})

	r := upload(t, srv, "", body)
	testkit.AssertError(t, r, http.StatusUnauthorized, "invalid_token")
	if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
	}
	testkit.AssertError(t, upload(t, srv, "not.a.token", body), http.StatusUnauthorized, "invalid_token")
	// Users, even administrators, do not upload decisions.
	testkit.AssertError(t, upload(t, srv, srv.Token(t, "alice", alicePassword), body), http.StatusForbidden, "forbidden")
	testkit.AssertError(t, upload(t, srv, srv.Token(t, "root", "cli-admin-pw-1234"), body), http.StatusForbidden, "forbidden")
	// A service without the permission.
	viewer := srv.ServiceToken(t, e.NewService("reports", "Viewer"))
	testkit.AssertError(t, upload(t, srv, viewer, body), http.StatusForbidden, "forbidden")
	// The published policy decides, as for the admin API: a disabled
	// account's token and a logged-out token are refused at the next
	// bundle, not at their expiry.
	creds := e.NewService("opa-sidecar", "iam-decision-logger")
	loggedOut := srv.ServiceToken(t, creds)
	if r := srv.Do(t, http.MethodPost, "/auth/logout", "", "Authorization", "Bearer "+loggedOut); r.Status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	logger := srv.ServiceToken(t, creds)
	empty := gzipJSON(t, []any{}) // accepted, stores nothing
	if r := upload(t, srv, logger, empty); r.Status != http.StatusOK {
		t.Fatalf("upload before the account is disabled: %d %s", r.Status, r.Body)
	}
	e.Must("", "service", "disable", "opa-sidecar")
	for name, tok := range map[string]string{"logged out": loggedOut, "disabled account": logger} {
		testkit.Eventually(t, 5*time.Second, name+": 401 at the next bundle", func() bool {
			return upload(t, srv, tok, empty).Status == http.StatusUnauthorized
		})
		testkit.AssertError(t, upload(t, srv, tok, body), http.StatusUnauthorized, "invalid_token")
	}
	if entries, _ := decisionLogs(t, e); len(entries) != 0 {
		t.Fatalf("refused uploads stored %v", entries)
	}
}

func TestDecisionLogs_OversizedAndMalformedUploadsStoreNothing(t *testing.T) {
	e := testkit.NewIAM(t)
	srv := e.Serve("--decision-log-max-bytes", "65536", "--decision-log-max-events", "3")
	opa := srv.ServiceToken(t, e.NewService("opa-sidecar", "iam-decision-logger"))
	event := func() map[string]any { return opaEvent(uuid.NewString(), "", "inventory.read", true) }

	// A gzip bomb: 8 MiB of JSON whitespace in about 8 KiB of gzip.
	bomb := gzipped(t, append(append([]byte("["), bytes.Repeat([]byte(" "), 8<<20)...), ']'))
	random := make([]byte, 70000)
	_, _ = rand.Read(random)
	for name, r := range map[string]testkit.Response{
		"gzip bomb":          upload(t, srv, opa, bomb),
		"too many events":    upload(t, srv, opa, gzipJSON(t, []any{event(), event(), event(), event()})),
		"body over the cap":  upload(t, srv, opa, gzipped(t, random)),
		"plain over the cap": upload(t, srv, opa, `[`+strings.Repeat(" ", 70000)+`]`, "Content-Encoding", ""),
	} {
		t.Run(name, func(t *testing.T) { testkit.AssertError(t, r, http.StatusRequestEntityTooLarge, "too_large") })
	}

	noID := event()
	delete(noID, "decision_id")
	badTime := event()
	badTime["timestamp"] = "yesterday"
	for name, r := range map[string]testkit.Response{
		"not gzip":         upload(t, srv, opa, `[]`),
		"not an array":     upload(t, srv, opa, gzipJSON(t, event())),
		"no decision id":   upload(t, srv, opa, gzipJSON(t, []any{noID})),
		"bad timestamp":    upload(t, srv, opa, gzipJSON(t, []any{badTime})),
		"trailing data":    upload(t, srv, opa, gzipped(t, []byte(`[] []`))),
		"empty":            upload(t, srv, opa, gzipped(t, nil)),
		"other encoding":   upload(t, srv, opa, gzipJSON(t, []any{event()}), "Content-Encoding", "br"),
		"truncated gzip":   upload(t, srv, opa, gzipJSON(t, []any{event()})[:40]),
		"one bad of three": upload(t, srv, opa, gzipJSON(t, []any{event(), noID, event()})),
	} {
		t.Run(name, func(t *testing.T) { testkit.AssertError(t, r, http.StatusBadRequest, "invalid_request") })
	}
	if entries, _ := decisionLogs(t, e); len(entries) != 0 {
		t.Fatalf("refused uploads stored %v", entries)
	}
	// Within the limits, uncompressed JSON is accepted too.
	r := upload(t, srv, opa, mustJSON(t, []any{event(), event(), event()}), "Content-Encoding", "")
	if r.Status != http.StatusOK || string(r.Body) != `{"received":3,"stored":3}` {
		t.Fatalf("plain upload: %d %s", r.Status, r.Body)
	}
}

// A NUL, which PostgreSQL can store in neither text nor jsonb, does not
// make OPA's upload fail (OPA would resend it forever): it is stored as
// U+FFFD.
func TestDecisionLogs_NULIsStoredAsTheReplacementCharacter(t *testing.T) {
	e := testkit.NewIAM(t)
	srv := e.Serve()
	opa := srv.ServiceToken(t, e.NewService("opa-sidecar", "iam-decision-logger"))
	ev := opaEvent("decision\x00one", "", "inventory.read", true, "reason\x00")
	ev["path"] = "gaia/authz\x00"
	ev["labels"] = map[string]string{"id\x00": "opa\x00"}
	ev["input"] = map[string]any{"note\x00": "a\x00b"}
	r := upload(t, srv, opa, gzipJSON(t, []any{ev}))
	if r.Status != http.StatusOK || string(r.Body) != `{"received":1,"stored":1}` {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	entries, _ := decisionLogs(t, e)
	if len(entries) != 1 {
		t.Fatalf("stored %v", entries)
	}
	got := entries[0]
	want := map[string]any{
		"decision_id": "decision\uFFFDone", "path": "gaia/authz\uFFFD",
		"labels": map[string]any{"id\uFFFD": "opa\uFFFD"}, "input": map[string]any{"note\uFFFD": "a\uFFFDb"},
		"reasons": []any{"reason\uFFFD"},
	}
	for k, v := range want {
		if mustJSON(t, got[k]) != mustJSON(t, v) {
			t.Errorf("%s stored as %s, want %s", k, mustJSON(t, got[k]), mustJSON(t, v))
		}
	}
}

func TestDecisionLogs_RetentionDeletesOldDecisions(t *testing.T) {
	e := testkit.NewIAM(t)
	srv := e.Serve("--decision-log-retention", "2s")
	opa := srv.ServiceToken(t, e.NewService("opa-sidecar", "iam-decision-logger"))
	id := uuid.NewString()
	if r := upload(t, srv, opa, gzipJSON(t, []any{opaEvent(id, "", "inventory.read", true)})); r.Status != http.StatusOK {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	if entries, _ := decisionLogs(t, e); len(entries) != 1 {
		t.Fatalf("stored %v, want the decision", entries)
	}
	testkit.Eventually(t, 15*time.Second, "the server deletes the decision after the retention", func() bool {
		entries, _ := decisionLogs(t, e)
		return len(entries) == 0
	})
	evs := e.AuditEvents("decision_logs.pruned")
	if len(evs) != 1 || evs[0]["actor"] != "system" {
		t.Fatalf("audit: %v, want one decision_logs.pruned by system", evs)
	}
	if det, _ := evs[0]["details"].(map[string]any); det["deleted"] != float64(1) {
		t.Errorf("pruned details %v", evs[0]["details"])
	}
}
