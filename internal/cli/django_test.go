package cli_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/gaia-platform/iam/internal/app"
	"github.com/gaia-platform/iam/internal/config"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/testkit"
)

// The example dump's passwords (docs/django.md): alice's and
// bob's are pbkdf2_sha256 hashes made as Django makes them; dave's is
// passlib's Django-generated bcrypt_sha256 vector; frank's is Django's md5
// test vector, an algorithm Gaia does not verify.
var (
	djangoDump = filepath.Join("..", "..", "examples", "django-dump.json")
	djangoMap  = filepath.Join("..", "..", "examples", "django-permissions.yaml")
)

const exampleImportChanges = 32

func importDjango(e *testkit.IAM, extra ...string) string {
	return e.Must("", append([]string{"import-django", "--file", djangoDump, "--permissions-map", djangoMap}, extra...)...)
}

func TestImportDjango_ExampleRoundTrips(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	out := importDjango(e)
	for _, want := range []string{
		"created permission analytics.report.export\n",
		"created role Analysts\n",
		"granted analytics.report.export to role Analysts\n",
		"created user admin\ngave role iam-admin to user admin\n",
		"created user erin (disabled)\n",
		"created user frank (no password)\n",
		"import applied: 32 changes\n",
		"read 8 users and 4 groups\n",
		"  auth.change_user (groups: Support)\n  auth.view_user (groups: Support)\n",
		"  svc-reports: unusable password\n",
		"  frank: unsupported password hash: algorithm \"md5\"\n",
		"  bob: inventory.delete_item\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("import output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "pbkdf2_sha256$") || strings.Contains(out, "seasalt") {
		t.Errorf("import output shows a password hash:\n%s", out)
	}
	events := len(e.AuditEvents(""))
	if events != exampleImportChanges {
		t.Errorf("%d audit events for %d changes, want one each", events, exampleImportChanges)
	}

	// Again, from stdin: nothing changes, nothing is audited.
	dump, err := os.ReadFile(djangoDump)
	if err != nil {
		t.Fatal(err)
	}
	again := e.Must(string(dump), "import-django", "--file", "-", "--permissions-map", djangoMap)
	if !strings.HasPrefix(again, "import applied: 0 changes\n") {
		t.Errorf("second import:\n%s\nwant no changes", again)
	}
	if n := len(e.AuditEvents("")); n != events {
		t.Errorf("second import wrote %d audit events, want 0", n-events)
	}

	users := e.Must("", "user", "list")
	for _, want := range []string{"alice ", "Analysts", "bob ", "Inventory Managers,Viewers", "erin ", "disabled", "admin ", "iam-admin"} {
		if !strings.Contains(users, want) {
			t.Errorf("user list lacks %q:\n%s", want, users)
		}
	}
	if n := strings.Count(users, "\n"); n != 9 {
		t.Errorf("user list has %d lines, want a header and 8 users:\n%s", n, users)
	}
	roles := e.Must("", "role", "list")
	for _, want := range []string{
		"Analysts             analytics.report.export,analytics.report.view,inventory.read",
		"Inventory Managers   analytics.report.view,inventory.read,inventory.write",
		"Viewers              inventory.read",
	} {
		if !strings.Contains(roles, want) {
			t.Errorf("role list lacks %q:\n%s", want, roles)
		}
	}
}

func TestImportDjango_DjangoPasswordLogsInAndIsUpgraded(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	importDjango(e)
	before := storedHash(t, e, "alice")
	if !strings.HasPrefix(before, "pbkdf2_sha256$600000$") {
		t.Fatalf("alice's imported hash is %s, want Django's pbkdf2_sha256", identity.HashAlgorithm(before))
	}
	srv := e.Serve()

	tok, err := jwt.ParseString(srv.Token(t, "alice", alicePassword), jwt.WithVerify(false))
	if err != nil {
		t.Fatal(err)
	}
	roles, _ := tok.Get("roles")
	perms, _ := tok.Get("permissions")
	testkit.AssertStrings(t, "roles", roles, "Analysts")
	testkit.AssertStrings(t, "permissions", perms, "analytics.report.export", "analytics.report.view", "inventory.read")

	after := storedHash(t, e, "alice")
	if !identity.IsArgon2id(after) || !identity.VerifyPassword(alicePassword, after) {
		t.Fatalf("after the first login alice's hash is %s, want argon2id of her password", identity.HashAlgorithm(after))
	}
	upgraded := e.AuditEvents("user.password.upgraded")
	if len(upgraded) != 1 {
		t.Fatalf("%d user.password.upgraded events, want 1", len(upgraded))
	}
	details := upgraded[0]["details"].(map[string]any)
	if details["username"] != "alice" || details["from"] != "pbkdf2_sha256" || details["to"] != "argon2id" || upgraded[0]["ip"] != "127.0.0.1" {
		t.Errorf("upgrade event %v", upgraded[0])
	}

	// Now argon2id: logs in again, without another upgrade.
	srv.Token(t, "alice", alicePassword)
	testkit.AssertError(t, srv.Login(t, "alice", alicePassword+"!"), http.StatusUnauthorized, "invalid_credentials")
	if n := len(e.AuditEvents("user.password.upgraded")); n != 1 {
		t.Errorf("%d upgrade events after a second login, want still 1", n)
	}

	// dave's hash is bcrypt_sha256, as Django 1.6 wrote it.
	srv.Token(t, "dave", "lètmein")
	if h := storedHash(t, e, "dave"); !identity.IsArgon2id(h) {
		t.Errorf("dave's hash after login is %s, want argon2id", identity.HashAlgorithm(h))
	}

	// A re-import keeps the upgraded hash: it is newer than the dump's.
	if out := importDjango(e); !strings.HasPrefix(out, "import applied: 0 changes\n") {
		t.Errorf("re-import after the upgrade:\n%s\nwant no changes", out)
	}
	if storedHash(t, e, "alice") != after {
		t.Error("re-importing replaced alice's upgraded hash with Django's")
	}
	everything := e.Must("", "audit", "list", "--limit", "1000")
	if strings.Contains(everything, before) || strings.Contains(everything, after) || strings.Contains(everything, alicePassword) {
		t.Error("a password or hash reached the audit trail")
	}
	if logs := srv.Logs.String(); strings.Contains(logs, alicePassword) || strings.Contains(logs, "pbkdf2_sha256$") {
		t.Error("a password or hash reached the server log")
	}
}

func TestImportDjango_DryRunChangesNothing(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	state := func() string {
		return e.Must("", "user", "list") + e.Must("", "role", "list") + e.Must("", "audit", "list", "--limit", "1000")
	}
	before := state()

	// The seed made three of the permissions the map names: the import
	// leaves them, and their descriptions, alone.
	dry := importDjango(e, "--dry-run")
	if !strings.Contains(dry, "dry run: 29 changes would be made; nothing was changed\n") ||
		!strings.Contains(dry, "created user alice\n") || !strings.Contains(dry, "  frank: unsupported password hash") {
		t.Errorf("dry run output:\n%s", dry)
	}
	if after := state(); after != before {
		t.Errorf("a dry run changed the IAM:\nbefore\n%s\nafter\n%s", before, after)
	}
	real := importDjango(e)
	if !strings.Contains(real, "import applied: 29 changes\n") {
		t.Errorf("import output:\n%s", real)
	}
	if d, r := changeLines(dry), changeLines(real); d != r {
		t.Errorf("dry run reported\n%s\nthe import did\n%s", d, r)
	}
	if again := importDjango(e, "--dry-run"); !strings.HasPrefix(again, "dry run: 0 changes would be made") {
		t.Errorf("dry run after the import:\n%s", again)
	}
}

func TestImportDjango_CorruptDumpFailsNamingTheRecordAndChangesNothing(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	importDjango(e)
	state := func() string {
		return e.Must("", "user", "list") + e.Must("", "role", "list") + e.Must("", "audit", "list", "--limit", "1000")
	}
	before := state()

	raw, err := os.ReadFile(djangoDump)
	if err != nil {
		t.Fatal(err)
	}
	// alice is record 23: 17 permissions, 4 groups, then admin and alice.
	edit := func(change func(alice map[string]any, records []map[string]any) []map[string]any) string {
		var records []map[string]any
		if err := json.Unmarshal(raw, &records); err != nil {
			t.Fatal(err)
		}
		records = change(records[22]["fields"].(map[string]any), records)
		out, err := json.Marshal(records)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	twin := func(username string) func(map[string]any, []map[string]any) []map[string]any {
		return func(_ map[string]any, records []map[string]any) []map[string]any {
			return append(records, map[string]any{"model": "auth.user", "pk": 99, "fields": map[string]any{
				"username": username, "password": "", "is_active": true, "is_superuser": false, "groups": []any{}}})
		}
	}
	for name, tc := range map[string]struct{ dump, want string }{
		"bad JSON": {string(raw[:len(raw)/2]), "invalid JSON"},
		"unknown group": {edit(func(alice map[string]any, r []map[string]any) []map[string]any {
			alice["groups"] = []any{[]any{"Auditors"}}
			return r
		}), `record 23 (auth.user pk=2 "alice"): group "Auditors" is not in the dump`},
		"username differing in case": {edit(twin("ALICE")), `record 30 (auth.user pk=99 "ALICE") and record 23 (auth.user pk=2 "alice") are the same user`},
		"username differing in NFKC": {edit(twin("ａｌｉｃｅ")), `record 30 (auth.user pk=99 "ａｌｉｃｅ") and record 23 (auth.user pk=2 "alice") are the same user`},
		"is_active not a boolean": {edit(func(alice map[string]any, r []map[string]any) []map[string]any {
			alice["is_active"] = "false"
			return r
		}), `record 23 (auth.user pk=2): field is_active: want bool, not string`},
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "dump.json")
			if err := os.WriteFile(file, []byte(tc.dump), 0o600); err != nil {
				t.Fatal(err)
			}
			r := e.Run("", "import-django", "--file", file, "--permissions-map", djangoMap)
			if r.Code == 0 || !strings.Contains(r.Stderr, tc.want) || !strings.Contains(r.Stderr, "nothing was imported") {
				t.Fatalf("import of a corrupt dump: exit %d, stderr %q; want failure naming %q", r.Code, r.Stderr, tc.want)
			}
			if after := state(); after != before {
				t.Errorf("a failed import changed the IAM:\nbefore\n%s\nafter\n%s", before, after)
			}
		})
	}

	badMap := filepath.Join(t.TempDir(), "map.yaml")
	if err := os.WriteFile(badMap, []byte("inventory.view_item: Inventory Read\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.Run("", "import-django", "--file", djangoDump, "--permissions-map", badMap)
	if r.Code == 0 || !strings.Contains(r.Stderr, `inventory.view_item: invalid permission code "Inventory Read"`) {
		t.Errorf("import with a bad map: exit %d, stderr %q", r.Code, r.Stderr)
	}
	if after := state(); after != before {
		t.Error("an import with a bad map changed the IAM")
	}
}

func TestImportDjango_UnusableHashesCannotLogIn(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	importDjango(e)
	srv := e.Serve()

	raw, err := os.ReadFile(djangoDump)
	if err != nil {
		t.Fatal(err)
	}
	var records []struct {
		Fields struct{ Username, Password string } `json:"fields"`
	}
	if err := json.Unmarshal(raw, &records); err != nil {
		t.Fatal(err)
	}
	unusable := ""
	for _, r := range records {
		if r.Fields.Username == "svc-reports" {
			unusable = r.Fields.Password
		}
	}
	for _, attempt := range []struct{ username, password string }{
		{"frank", "lètmein"},          // his real password, under md5
		{"svc-reports", unusable},     // Django's unusable marker itself
		{"erin", "erin left in 2023"}, // right password, disabled account
	} {
		testkit.AssertError(t, srv.Login(t, attempt.username, attempt.password), http.StatusUnauthorized, "invalid_credentials")
	}
	reasons := map[string]int{}
	for _, ev := range e.AuditEvents("auth.login.failed") {
		reasons[ev["details"].(map[string]any)["reason"].(string)]++
	}
	if reasons["unusable_password"] != 2 || reasons["account_disabled"] != 1 {
		t.Errorf("failed-login reasons %v, want 2 unusable_password and 1 account_disabled", reasons)
	}
	if h := storedHash(t, e, "erin"); !strings.HasPrefix(h, "pbkdf2_sha256$") {
		t.Errorf("erin's hash is %s: a refused login must not upgrade it", identity.HashAlgorithm(h))
	}
	if n := len(e.AuditEvents("user.password.upgraded")); n != 0 {
		t.Errorf("%d upgrade events, want 0", n)
	}
}

// changeLines is the part of import-django's output before its summary.
func changeLines(out string) string {
	for _, summary := range []string{"dry run: ", "import applied: "} {
		if i := strings.Index(out, summary); i >= 0 {
			return out[:i]
		}
	}
	return out
}

// storedHash reads a user's password hash through the store, as no command
// shows it.
func storedHash(t *testing.T, e *testkit.IAM, username string) string {
	t.Helper()
	db, err := config.ParseDatabase(e.DatabaseURL, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(t.Context(), db, identity.DefaultHashLimits(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	u, err := a.Users.Lookup(t.Context(), username)
	if err != nil {
		t.Fatal(err)
	}
	return u.PasswordHash
}
