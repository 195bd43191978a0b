package cli_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"

	"github.com/gaia-platform/iam/internal/testkit"
)

func TestBundle_ServedSignedWithSeededRolesKeysAndPolicy(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	srv := e.Serve()
	r, b := srv.Bundle(t, "")

	if ct := r.Header.Get("Content-Type"); ct != "application/gzip" {
		t.Errorf("Content-Type %q, want application/gzip", ct)
	}
	if etag := r.Header.Get("ETag"); etag != `"`+b.Manifest.Revision+`"` || len(b.Manifest.Revision) != 64 {
		t.Errorf("ETag %s for revision %q, want the quoted revision", etag, b.Manifest.Revision)
	}
	var paths []string
	for _, m := range b.Modules {
		paths = append(paths, m.Path)
	}
	if !slices.Equal(paths, []string{"/policies/authz.rego"}) {
		t.Errorf("modules %q, want /policies/authz.rego", paths)
	}

	gaia := b.Data["gaia"].(map[string]any)
	wantJSON(t, "roles", gaia["roles"], map[string][]string{
		"Admin":               {"analytics.report.view", "inventory.read", "inventory.write"},
		"Analyst":             {"analytics.report.view", "inventory.read"},
		"Viewer":              {"inventory.read"},
		"iam-admin":           {"iam.audit.read", "iam.roles.write", "iam.users.read", "iam.users.write"},
		"iam-decision-logger": {"iam.decisions.write"},
	})
	wantJSON(t, "config", gaia["config"], map[string]string{"issuer": "gaia-iam"})
	wantJSON(t, "keys", gaia["keys"], json.RawMessage(srv.Do(t, http.MethodGet, "/.well-known/jwks.json", "").Body))
	wantJSON(t, "revocations", gaia["revocations"], map[string]any{"jti": map[string]any{}, "subjects": map[string]any{}})

	nm := srv.Do(t, http.MethodGet, testkit.BundlePath, "", "If-None-Match", r.Header.Get("ETag"))
	if nm.Status != http.StatusNotModified || len(nm.Body) != 0 || nm.Header.Get("ETag") != r.Header.Get("ETag") {
		t.Errorf("If-None-Match the current ETag: %d, %d bytes, ETag %s; want 304, no body, same ETag", nm.Status, len(nm.Body), nm.Header.Get("ETag"))
	}
	if stale := srv.Do(t, http.MethodGet, testkit.BundlePath, "", "If-None-Match", `"stale"`); stale.Status != http.StatusOK || !bytes.Equal(stale.Body, r.Body) {
		t.Errorf("If-None-Match a stale ETag: %d, want 200 and the bundle", stale.Status)
	}

	logs := srv.Logs.String()
	if !strings.Contains(logs, `"msg":"policy bundle compiled"`) || !strings.Contains(logs, b.Manifest.Revision) {
		t.Errorf("the server did not log the bundle revision it serves:\n%s", logs)
	}
	if strings.Contains(logs, "PRIVATE KEY") {
		t.Error("the server logged a private key")
	}
}

// Changes made with the CLI reach the served bundle at the publisher's
// next poll, and the policy in it then answers differently for a token
// issued before them.
func TestBundle_RoleChangesReachTheServedBundleWithinSeconds(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	aliceID := e.UserID("alice")
	srv := e.Serve()
	token := srv.Token(t, "alice", alicePassword)
	first, b := srv.Bundle(t, "")
	testkit.WantDecision(t, b, token, "inventory.read", true)
	testkit.WantDecision(t, b, token, "inventory.write", false, "permission_missing")

	e.Must("", "role", "grant", "Analyst", "inventory.write")
	e.Must("", "user", "remove-role", "alice", "Analyst")

	_, b = srv.BundleWhere(t, first.Header.Get("ETag"), func(b opabundle.Bundle) bool {
		gaia := b.Data["gaia"].(map[string]any)
		analyst, _ := gaia["roles"].(map[string]any)["Analyst"].([]any)
		_, revoked := gaia["revocations"].(map[string]any)["subjects"].(map[string]any)[aliceID]
		return slices.Contains(analyst, any("inventory.write")) && revoked
	})
	testkit.WantDecision(t, b, token, "inventory.read", false, "token_revoked")
}

// Replicas compile the same state into the same bytes, so a service
// polling through a load balancer sees one ETag, not one per replica.
func TestBundle_ReplicasOnOneDatabaseServeByteIdenticalBundles(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	e.Must("", "user", "remove-role", "alice", "Analyst") // a revocation in the data, too
	a, b := e.Serve(), e.Serve()
	ra, _ := a.Bundle(t, "")
	rb, _ := b.Bundle(t, "")
	if !bytes.Equal(ra.Body, rb.Body) || ra.Header.Get("ETag") != rb.Header.Get("ETag") {
		t.Fatalf("replicas serve different bundles: ETags %s and %s, %d and %d bytes",
			ra.Header.Get("ETag"), rb.Header.Get("ETag"), len(ra.Body), len(rb.Body))
	}
}

func TestBundle_DisablingAUserRevokesItsTokens(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Viewer")
	aliceID := e.UserID("alice")
	srv := e.Serve()
	first, _ := srv.Bundle(t, "")
	before := time.Now().Unix()
	e.Must("", "user", "disable", "alice")
	after := time.Now().Unix()

	var notBefore json.Number
	srv.BundleWhere(t, first.Header.Get("ETag"), func(b opabundle.Bundle) bool {
		subjects := b.Data["gaia"].(map[string]any)["revocations"].(map[string]any)["subjects"].(map[string]any)
		notBefore, _ = subjects[aliceID].(json.Number)
		return notBefore != ""
	})
	if nb, err := notBefore.Int64(); err != nil || nb < before || nb > after {
		t.Errorf("alice's tokens void up to %s, want a time between %d and %d", notBefore, before, after)
	}
}

func wantJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	var gv, wv any
	_ = json.Unmarshal(g, &gv)
	_ = json.Unmarshal(w, &wv)
	if gs, ws := must(json.Marshal(gv)), must(json.Marshal(wv)); !bytes.Equal(gs, ws) {
		t.Errorf("%s\n got %s\nwant %s", what, gs, ws)
	}
}

// must is v, panicking on err (for values a test builds itself).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
