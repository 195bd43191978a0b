package cli_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaia-platform/iam/internal/cli"
	"github.com/gaia-platform/iam/internal/testkit"
)

func TestAuditVerify_FreshAndBusyDatabasesVerify(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	assertVerifies(t, e)

	busy(e)
	if n := assertVerifies(t, e); n < 10 {
		t.Fatalf("ok %d events after a busy start, want at least 10", n)
	}
}

func TestAuditVerify_AnEditedRowBreaksTheChainThere(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	busy(e)
	ids := auditIDs(t, e)
	victim := ids[len(ids)/2]

	// The append-only trigger stands even for the database's owner...
	if err := superuserExec(t, e, false, fmt.Sprintf(`UPDATE audit_events SET actor = 'mallory' WHERE id = %d`, victim)); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("UPDATE of an audit row = %v, want the append-only trigger to refuse it", err)
	}
	assertVerifies(t, e)
	// ...but a superuser can lift it: then the chain names the row.
	if err := superuserExec(t, e, true, fmt.Sprintf(`UPDATE audit_events SET actor = 'mallory' WHERE id = %d`, victim)); err != nil {
		t.Fatal(err)
	}
	assertFails(t, e.Run("", "audit", "verify"), fmt.Sprintf("audit chain broken at event %d: its content does not match its hash", victim))
}

func TestAuditVerify_EditedDetailsBreakTheChain(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	busy(e)
	ids := auditIDs(t, e)
	victim := ids[1]
	if err := superuserExec(t, e, true, fmt.Sprintf(`UPDATE audit_events SET details = '{"username":"someone-else"}' WHERE id = %d`, victim)); err != nil {
		t.Fatal(err)
	}
	assertFails(t, e.Run("", "audit", "verify"), fmt.Sprintf("audit chain broken at event %d: its content does not match its hash", victim))
}

func TestAuditVerify_ADeletedRowBreaksTheChainAfterIt(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	busy(e)
	ids := auditIDs(t, e)
	victim := ids[len(ids)/2]
	if err := superuserExec(t, e, false, fmt.Sprintf(`DELETE FROM audit_events WHERE id = %d`, victim)); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("DELETE of an audit row = %v, want the append-only trigger to refuse it", err)
	}
	if err := superuserExec(t, e, true, fmt.Sprintf(`DELETE FROM audit_events WHERE id = %d`, victim)); err != nil {
		t.Fatal(err)
	}
	before, after := ids[len(ids)/2-1], ids[len(ids)/2+1]
	assertFails(t, e.Run("", "audit", "verify"), fmt.Sprintf("audit chain broken at event %d: it links to a previous hash that is not event %d's", after, before))

	// Deleting the first events is caught too.
	if err := superuserExec(t, e, true, fmt.Sprintf(`DELETE FROM audit_events WHERE id = %d`, ids[0])); err != nil {
		t.Fatal(err)
	}
	assertFails(t, e.Run("", "audit", "verify"), fmt.Sprintf("audit chain broken at event %d: it is the first event", ids[1]))
}

func TestAuditVerify_EventsFromBeforeTheChainAreHashedByMigrate(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	busy(e)
	// As a database upgraded from before the chain: no hashes at all.
	if err := superuserExec(t, e, true, `UPDATE audit_events SET prev_hash = NULL, hash = NULL`); err != nil {
		t.Fatal(err)
	}
	// Every command migrates first; migrate hashes them, oldest first.
	e.Must("", "migrate")
	n := assertVerifies(t, e)
	if n != len(auditIDs(t, e)) {
		t.Fatalf("ok %d events, want all %d", n, len(auditIDs(t, e)))
	}
	// New events chain on after the backfilled ones, and the trigger is back.
	e.Must("", "role", "revoke", "Admin", "inventory.write")
	assertVerifies(t, e)
	if err := superuserExec(t, e, false, `UPDATE audit_events SET actor = 'mallory'`); err == nil {
		t.Fatal("UPDATE after the backfill succeeded: the append-only trigger is gone")
	}
}

func TestAuditVerify_ConcurrentWritersMakeOneChain(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	var wg sync.WaitGroup
	for _, role := range []string{"Admin", "Analyst", "Viewer"} {
		for _, perm := range []string{"inventory.read", "inventory.write", "analytics.report.view"} {
			wg.Go(func() {
				for _, op := range []string{"revoke", "grant", "revoke", "grant"} {
					if r := e.Run("", "role", op, role, perm); r.Code != 0 {
						t.Errorf("role %s %s %s: exit %d: %s", op, role, perm, r.Code, r.Stderr)
					}
				}
			})
		}
	}
	wg.Wait()
	if n, want := assertVerifies(t, e), len(auditIDs(t, e)); n != want {
		t.Fatalf("ok %d events, want all %d", n, want)
	}
}

func TestAuditTail_FiltersByActorAndType(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", "first-viewer-pw", "Viewer")
	e.WithUser("bob", "second-viewer-pw", "Viewer")
	srv := e.Serve()
	srv.Login(t, "alice", "first-viewer-pw")
	srv.Login(t, "bob", "second-viewer-pw")
	srv.Login(t, "alice", "wrong-password")
	srv.Stop()

	alice := "user:" + e.UserID("alice")
	lines := tailLines(t, e, "audit", "tail", "--actor", "alice")
	for _, l := range lines {
		if l["actor"] != alice {
			t.Fatalf("tail --actor alice printed an event of %v", l["actor"])
		}
	}
	if !strings.Contains(actions(lines), "auth.login.succeeded") {
		t.Fatalf("tail --actor alice = %s, want alice's login among them", actions(lines))
	}
	lines = tailLines(t, e, "audit", "tail", "--actor", alice, "--type", "auth.login")
	if len(lines) != 1 || lines[0]["action"] != "auth.login.succeeded" || lines[0]["actor"] != alice {
		t.Fatalf("tail --actor %s --type auth.login = %v, want alice's one login", alice, lines)
	}
	lines = tailLines(t, e, "audit", "tail", "--type", "auth.login")
	if got := actions(lines); got != "auth.login.succeeded auth.login.succeeded auth.login.failed" {
		t.Fatalf("tail --type auth.login = %s", got)
	}
	lines = tailLines(t, e, "audit", "tail", "--type", "auth.login.failed")
	if got := actions(lines); got != "auth.login.failed" {
		t.Fatalf("tail --type auth.login.failed = %s", got)
	}
	lines = tailLines(t, e, "audit", "tail", "-n", "2")
	all := tailLines(t, e, "audit", "tail", "-n", "1000")
	if len(lines) != 2 || lines[0]["id"] != all[len(all)-2]["id"] || lines[1]["id"] != all[len(all)-1]["id"] {
		t.Fatalf("tail -n 2 = %v, want the newest two, newest last", lines)
	}
	assertFails(t, e.Run("", "audit", "tail", "-n", "0"), "--lines")
}

func TestAuditTail_FollowPrintsNewEventsUntilInterrupted(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	ctx, cancel := context.WithCancel(context.Background())
	out := &testkit.LockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(ctx, []string{"--database-url", e.DatabaseURL, "audit", "tail", "--follow", "--interval", "50ms", "--type", "role.permission.revoked"},
			cli.IO{In: strings.NewReader(""), Out: out, Err: out})
	}()
	e.Must("", "role", "revoke", "Admin", "inventory.write")
	testkit.Eventually(t, 10*time.Second, "the revocation in the followed tail", func() bool {
		return strings.Contains(out.String(), `"target":"role:Admin"`)
	})
	e.Must("", "role", "grant", "Admin", "inventory.write")
	e.Must("", "role", "revoke", "Viewer", "inventory.read")
	testkit.Eventually(t, 10*time.Second, "the second revocation in the followed tail", func() bool {
		return strings.Contains(out.String(), `"target":"role:Viewer"`)
	})
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("tail --follow exited %d when interrupted: %s", code, out.String())
	}
	if strings.Contains(out.String(), "granted") || strings.Count(out.String(), "\n") != 2 {
		t.Fatalf("followed tail printed, want exactly the two revocations:\n%s", out.String())
	}
}

// busy gives e an audit trail of every kind a CLI writes.
func busy(e *testkit.IAM) {
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	e.Must("third-viewer-pw\n", "user", "create", "carol", "--password-stdin", "--role", "Viewer")
	e.Must("", "user", "add-role", "carol", "Analyst")
	e.Must("", "role", "revoke", "Analyst", "inventory.read")
	e.Must("", "role", "grant", "Viewer", "analytics.report.view")
	e.Must("", "user", "disable", "carol")
}

func assertVerifies(t *testing.T, e *testkit.IAM) int {
	t.Helper()
	out := e.Must("", "audit", "verify")
	want := len(auditIDs(t, e))
	if out != fmt.Sprintf("ok %d events\n", want) {
		t.Fatalf("audit verify = %q, want ok %d events", out, want)
	}
	return want
}

// auditIDs are the ids of every event, oldest first.
func auditIDs(t *testing.T, e *testkit.IAM) []int64 {
	t.Helper()
	var ids []int64
	for _, l := range tailLines(t, e, "audit", "tail", "-n", "10000") {
		ids = append(ids, int64(l["id"].(float64)))
	}
	return ids
}

func tailLines(t *testing.T, e *testkit.IAM, args ...string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.Must("", args...)), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s: not JSON: %v: %q", strings.Join(args, " "), err, line)
		}
		lines = append(lines, m)
	}
	return lines
}

func actions(lines []map[string]any) string {
	var out []string
	for _, l := range lines {
		out = append(out, fmt.Sprint(l["action"]))
	}
	return strings.Join(out, " ")
}

// superuserExec runs stmts on e's database directly, as its superuser or
// as whoever can write the SQLite file would. With lift, the append-only
// triggers are lifted for the statements and restored after them.
func superuserExec(t *testing.T, e *testkit.IAM, lift bool, stmts ...string) error {
	t.Helper()
	if path, ok := strings.CutPrefix(e.DatabaseURL, "sqlite://"); ok {
		return sqliteExec(t, path, lift, stmts)
	}
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, e.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if lift {
		stmts = append(append([]string{`ALTER TABLE audit_events DISABLE TRIGGER USER`}, stmts...), `ALTER TABLE audit_events ENABLE TRIGGER USER`)
	}
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

func sqliteExec(t *testing.T, path string, lift bool, stmts []string) error {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var restore []string
	if lift {
		rows, err := db.Query(`SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'`)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for rows.Next() {
			var name, def string
			if err := rows.Scan(&name, &def); err != nil {
				t.Fatal(err)
			}
			names, restore = append(names, name), append(restore, def)
		}
		rows.Close()
		if len(names) == 0 {
			t.Fatal("no append-only triggers on audit_events")
		}
		for _, n := range names {
			stmts = append([]string{`DROP TRIGGER ` + n}, stmts...)
		}
	}
	for _, s := range append(stmts, restore...) {
		if _, err := db.Exec(s); err != nil {
			return err
		}
	}
	return nil
}
