package httpapi_test

import (
	"net/http"
	"os"
	"slices"
	"testing"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"

	"github.com/gaia-platform/iam/internal/testkit"
)

// postgresIAM is a testkit installation on PostgreSQL, for the tests of
// how replicas share one server; under IAM_TEST_STORE=sqlite they are
// skipped, as the PostgreSQL run of the package has them.
func postgresIAM(t *testing.T) *testkit.IAM {
	t.Helper()
	if os.Getenv(testkit.EnvStore) == "sqlite" {
		t.Skip("skipping: replicas sharing a database, and PgBouncer, are PostgreSQL's; the PostgreSQL run has this test")
	}
	return testkit.NewIAM(t)
}

// An installation whose every connection goes through PgBouncer in
// transaction pooling mode, in the query mode docs/storage.md recommends
// for it: the CLI's, the migrations they apply first, and the server's.
// Logins, refreshes, admin and CLI writes work, and reach the bundle.
func TestServe_ThroughPgBouncerInTransactionMode(t *testing.T) {
	t.Parallel()
	e := postgresIAM(t)
	e.DatabaseURL = testkit.StartPgBouncer(t).URL(e.DatabaseURL, "exec")
	e.WithUser("alice", alicePassword, "Analyst")
	e.Must(rootPassword+"\n", "createsuperuser", "--username", "root", "--password-stdin")
	srv := e.Serve()

	first := srv.LoginPair(t, "alice", alicePassword)
	next := srv.MustRefresh(t, first.Refresh)
	if got := srv.Claims(t, next.Access)["username"]; got != "alice" {
		t.Fatalf("refreshed token's username %v, want alice", got)
	}
	root := srv.Token(t, "root", rootPassword)
	srv.MustAdmin(t, root, http.MethodPut, "/roles/Viewer/permissions/analytics.report.view", "", http.StatusOK)
	e.Must("", "role", "grant", "Analyst", "inventory.write")
	srv.BundleWhere(t, "", func(b opabundle.Bundle) bool {
		return slices.Contains(roleGrants(b, "Viewer"), "analytics.report.view") &&
			slices.Contains(roleGrants(b, "Analyst"), "inventory.write")
	})
	e.Must("", "audit", "verify")
}

// roleGrants is the permissions a bundle grants role.
func roleGrants(b opabundle.Bundle, role string) []string {
	var out []string
	for _, p := range b.Data["gaia"].(map[string]any)["roles"].(map[string]any)[role].([]any) {
		out = append(out, p.(string))
	}
	return out
}
