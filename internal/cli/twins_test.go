package cli_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/testkit"
)

// The commands below are the CLI twins of admin API actions (cliTwins in
// help_test.go pairs them with their routes).

// fields reads the "name: value" lines a describe command prints.
func fields(t *testing.T, out string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("describe printed a line that is not name: value: %q", line)
		}
		m[name] = strings.TrimSpace(value)
	}
	return m
}

func TestUserDescribe_ShowsIDStateRolesAndLastLogin(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	e.Must("", "user", "add-role", "alice", "Viewer")
	got := fields(t, e.Must("", "user", "describe", "ALICE"))
	if got["username"] != "alice" || got["id"] != e.UserID("alice") || got["state"] != "active" ||
		got["roles"] != "Analyst, Viewer" || got["last login"] != "never" || got["created"] == "" {
		t.Errorf("user describe: %v", got)
	}
	srv := e.Serve()
	srv.Token(t, "alice", alicePassword)
	e.Must("", "user", "disable", "alice")
	got = fields(t, e.Must("", "user", "describe", "alice"))
	if got["state"] != "disabled" || got["last login"] == "never" {
		t.Errorf("user describe after a login and disable: %v", got)
	}
	assertFails(t, e.Run("", "user", "describe", "ghost"), `user not found: "ghost"`)
}

func TestRoleCommands_CreateDescribeUpdateDeleteAreAuditedOnce(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	if out := e.Must("", "role", "create", "Auditor", "--description", "Reads the audit trail"); out != "created role Auditor\n" {
		t.Errorf("role create printed %q", out)
	}
	assertFails(t, e.Run("", "role", "create", "auditor"), `a role of that name already exists: "Auditor"`)
	assertFails(t, e.Run("", "role", "create", ""), "invalid role name")
	e.Must("", "role", "grant", "Auditor", "inventory.read")
	got := fields(t, e.Must("", "role", "describe", "auditor"))
	if got["name"] != "Auditor" || got["description"] != "Reads the audit trail" || got["builtin"] != "false" || got["permissions"] != "inventory.read" {
		t.Errorf("role describe: %v", got)
	}
	if got := fields(t, e.Must("", "role", "describe", "iam-admin")); got["builtin"] != "true" {
		t.Errorf("role describe iam-admin: %v", got)
	}

	if out := e.Must("", "role", "update", "auditor", "--description", "Reads the trail"); out != "updated the description of role Auditor\n" {
		t.Errorf("role update printed %q", out)
	}
	if out := e.Must("", "role", "update", "Auditor", "--description", "Reads the trail"); out != "nothing to do: role Auditor has that description already\n" {
		t.Errorf("role update to the same description printed %q", out)
	}
	assertFails(t, e.Run("", "role", "update", "Auditor"), "--description is required")
	assertFails(t, e.Run("", "role", "update", "iam-admin", "--description", "mine"), "built-in")
	if got := fields(t, e.Must("", "role", "describe", "Auditor")); got["description"] != "Reads the trail" {
		t.Errorf("role describe after update: %v", got)
	}

	e.Must("long enough password\n", "user", "create", "carol", "--password-stdin", "--role", "Auditor") // the holder loses it
	if out := e.Must("", "role", "delete", "AUDITOR"); out != "deleted role Auditor\n" {
		t.Errorf("role delete printed %q", out)
	}
	assertFails(t, e.Run("", "role", "describe", "Auditor"), "unknown role")
	assertFails(t, e.Run("", "role", "delete", "Auditor"), "unknown role")
	assertFails(t, e.Run("", "role", "delete", "iam-admin"), "built-in")
	if list := e.Must("", "user", "list"); !strings.Contains(list, "carol") || strings.Contains(list, "Auditor") {
		t.Errorf("user list after the role's deletion:\n%s", list)
	}
	assertAuditedOnce(t, e, "role:Auditor", "role.created", "role.updated", "role.deleted")
}

func TestPermissionCommands_CreateListDeleteAreAuditedOnce(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	if out := e.Must("", "permission", "create", "billing.invoice.read", "--description", "Read invoices"); out != "created permission billing.invoice.read\n" {
		t.Errorf("permission create printed %q", out)
	}
	assertFails(t, e.Run("", "permission", "create", "billing.invoice.read"), "already exists")
	assertFails(t, e.Run("", "permission", "create", "Billing"), "invalid permission code")
	e.Must("", "role", "grant", "Analyst", "billing.invoice.read")
	list := e.Must("", "permission", "list")
	if !strings.HasPrefix(list, "PERMISSION") || !strings.Contains(list, "billing.invoice.read") || !strings.Contains(list, "Read invoices") ||
		!strings.Contains(list, "inventory.read") || !strings.Contains(list, "iam.users.read") {
		t.Errorf("permission list:\n%s", list)
	}

	if out := e.Must("", "permission", "delete", "billing.invoice.read"); out != "deleted permission billing.invoice.read\n" {
		t.Errorf("permission delete printed %q", out)
	}
	if strings.Contains(e.Must("", "permission", "list"), "billing.invoice.read") || strings.Contains(e.Must("", "role", "list"), "billing.invoice.read") {
		t.Error("a deleted permission is still listed or granted")
	}
	assertFails(t, e.Run("", "permission", "delete", "billing.invoice.read"), "unknown permission")
	assertFails(t, e.Run("", "permission", "delete", "iam.users.read"), "cannot be deleted")
	assertAuditedOnce(t, e, "permission:billing.invoice.read", "permission.created", "permission.deleted")
}

func TestServiceDescribe_ShowsClientIDStateAndRolesNeverTheSecret(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	c := e.NewService("reporting", "Viewer", "Analyst")
	out := e.Must("", "service", "describe", "reporting")
	got := fields(t, out)
	if got["name"] != "reporting" || got["client id"] != c.ClientID || got["state"] != "active" || got["roles"] != "Analyst, Viewer" {
		t.Errorf("service describe: %v", got)
	}
	if strings.Contains(out, c.ClientSecret) {
		t.Fatal("service describe shows the secret")
	}
	e.Must("", "service", "disable", "reporting")
	if got := fields(t, e.Must("", "service", "describe", "reporting")); got["state"] != "disabled" {
		t.Errorf("service describe after disable: %v", got)
	}
	assertFails(t, e.Run("", "service", "describe", "nope"), `service account not found: "nope"`)
}

func TestSessionCommands_ListAndEndOneOfAUsersSessions(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	srv := e.Serve()
	first, second := srv.LoginPair(t, "alice", alicePassword), srv.LoginPair(t, "alice", alicePassword)

	ids := sessionIDs(t, e, "alice")
	if len(ids) != 2 {
		t.Fatalf("session list alice: %q, want 2 sessions", ids)
	}
	oldest := srv.OldestSession(t, first.Access, ids)
	if out := e.Must("", "session", "end", "ALICE", oldest); out != "ended session "+oldest+" of alice\n" {
		t.Errorf("session end printed %q", out)
	}
	testkit.AssertError(t, srv.Refresh(t, first.Refresh), http.StatusUnauthorized, "invalid_grant")
	srv.MustRefresh(t, second.Refresh)
	if ids := sessionIDs(t, e, "alice"); len(ids) != 1 || ids[0] == oldest {
		t.Errorf("session list after ending %s: %q", oldest, ids)
	}
	assertFails(t, e.Run("", "session", "end", "alice", oldest), "session not found: "+oldest+" is not an active session of alice")
	assertFails(t, e.Run("", "session", "end", "alice", "nope"), `"nope" is not a session id`)
	assertFails(t, e.Run("", "session", "list", "ghost"), `user not found: "ghost"`)
	revoked := e.AuditEvents("session.revoked")
	if len(revoked) != 1 || revoked[0]["target"] != "session:"+oldest || !strings.HasPrefix(str(revoked[0]["actor"]), "cli") {
		t.Errorf("session.revoked events %v, want one by the CLI on session:%s", revoked, oldest)
	}

	// A session idle for longer than the server's idle timeout is over,
	// and not listed.
	e.Clock = testkit.NewClock()
	e.Clock.Advance(2 * time.Hour)
	if ids := sessionIDs(t, e, "alice", "--refresh-idle-timeout", "1h"); len(ids) != 0 {
		t.Errorf("sessions idle for 2h with a 1h idle timeout: %q, want none", ids)
	}
}

// assertAuditedOnce checks that each action happened to target once, by
// the CLI.
func assertAuditedOnce(t *testing.T, e *testkit.IAM, target string, actions ...string) {
	t.Helper()
	for _, action := range actions {
		var on []map[string]any
		for _, ev := range e.AuditEvents(action) {
			if ev["target"] == target {
				on = append(on, ev)
			}
		}
		if len(on) != 1 || !strings.HasPrefix(str(on[0]["actor"]), "cli") {
			t.Errorf("%s events on %s: %v, want one by the CLI", action, target, on)
		}
	}
}

// sessionIDs are the session ids `iam session list` prints, in its order.
func sessionIDs(t *testing.T, e *testkit.IAM, args ...string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(e.Must("", append([]string{"session", "list"}, args...)...)), "\n")
	if !strings.HasPrefix(lines[0], "SESSION") {
		t.Fatalf("session list prints no header: %q", lines)
	}
	var ids []string
	for _, l := range lines[1:] {
		ids = append(ids, strings.Fields(l)[0])
	}
	return ids
}

// str is v if it is a string, else "".
func str(v any) string { s, _ := v.(string); return s }
