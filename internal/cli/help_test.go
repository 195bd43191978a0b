package cli_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/gaia-platform/iam/internal/cli"
	"github.com/gaia-platform/iam/internal/httpapi"
	"github.com/gaia-platform/iam/internal/testkit"
)

// iam runs the iam command with no database behind it: for help, version
// and argument errors, which need none.
func iam(args ...string) (code int, stdout, stderr string) {
	var out, errw bytes.Buffer
	code = cli.Run(context.Background(), args, cli.IO{In: strings.NewReader(""), Out: &out, Err: &errw})
	return code, out.String(), errw.String()
}

// commandPaths walks `iam help` from the root: every command there is.
func commandPaths(t *testing.T, path ...string) [][]string {
	t.Helper()
	code, out, _ := iam(append(path, "--help")...)
	if code != 0 {
		t.Fatalf("iam %s --help exited %d", strings.Join(path, " "), code)
	}
	all := [][]string{path}
	_, listed, found := strings.Cut(out, "Available Commands:\n")
	if !found {
		return all
	}
	listed, _, _ = strings.Cut(listed, "\n\n")
	for line := range strings.SplitSeq(listed, "\n") {
		if name := strings.Fields(line); len(name) > 0 {
			all = append(all, commandPaths(t, append(append([]string{}, path...), name[0])...)...)
		}
	}
	return all
}

func TestHelp_EveryCommandHasExamplesAndPlainSwitches(t *testing.T) {
	paths := commandPaths(t)
	if len(paths) < 30 {
		t.Fatalf("found only %d commands walking the help", len(paths))
	}
	for _, p := range paths {
		_, out, _ := iam(append(p, "--help")...)
		name := strings.Join(append([]string{"iam"}, p...), " ")
		if !strings.Contains(out, "\nExamples:\n  ") {
			t.Errorf("%s --help has no Examples: section", name)
		}
		if strings.Contains(out, "[=true|false]") {
			t.Errorf("%s --help shows a bool flag as [=true|false]", name)
		}
		// An example uses only flags the command has.
		_, examples, _ := strings.Cut(out, "\nExamples:\n")
		examples, _, _ = strings.Cut(examples, "\n\n")
		for _, flag := range regexp.MustCompile(`--[a-z][a-z-]*`).FindAllString(examples, -1) {
			if !strings.Contains(out, "      "+flag+" ") && !strings.Contains(out, ", "+flag+" ") {
				t.Errorf("%s's example uses %s, which it does not have", name, flag)
			}
		}
	}
	_, out, _ := iam("user", "create", "--help")
	if !regexp.MustCompile(`(?m)^      --password-stdin +read the password`).MatchString(out) {
		t.Errorf("a bool flag is not shown as a plain switch:\n%s", out)
	}
}

func TestVersion_PrintsVersionCommitAndBuildDate(t *testing.T) {
	want := regexp.MustCompile(`^iam \S+ \(commit \S+, built \S+\)\n$`)
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, out, _ := iam(args...)
		if code != 0 || !want.MatchString(out) {
			t.Errorf("iam %s = %d %q, want a line like %s", args[0], code, out, want)
		}
	}
}

func TestArguments_AMissingOrExtraOneShowsTheUsageLine(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		err, usage string
	}{
		{[]string{"user", "add-role", "alice"}, "missing argument ROLE", "iam user add-role USERNAME ROLE [flags]"},
		{[]string{"user", "disable"}, "missing argument USERNAME", "iam user disable USERNAME [flags]"},
		{[]string{"role", "grant"}, "missing arguments ROLE and PERMISSION", "iam role grant ROLE PERMISSION [flags]"},
		{[]string{"role", "grant", "Analyst", "inventory.read", "extra"}, `unexpected argument "extra"`, "iam role grant ROLE PERMISSION [flags]"},
		{[]string{"user", "list", "extra"}, `unexpected argument "extra"`, "iam user list [flags]"},
		{[]string{"session", "end", "alice"}, "missing argument SESSION", "iam session end USERNAME SESSION [flags]"},
		{[]string{"user", "create", "alice", "--pasword-stdin"}, "unknown flag: --pasword-stdin", "iam user create USERNAME [flags]"},
	} {
		code, out, errOut := iam(tc.args...)
		want := "iam: " + tc.err + "\nUsage: " + tc.usage + "\n"
		if code != 1 || out != "" || errOut != want {
			t.Errorf("iam %s = %d, stdout %q, stderr %q; want 1 and stderr %q", strings.Join(tc.args, " "), code, out, errOut, want)
		}
	}
	// A group given a command it lacks says so, without a usage line.
	if code, _, errOut := iam("role", "bogus"); code != 1 || errOut != "iam: unknown command \"bogus\" for \"iam role\"\n" {
		t.Errorf("iam role bogus = %d, stderr %q", code, errOut)
	}
}

func TestUserEnable_LetsADisabledUserLogInAgainAndIsAudited(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	srv := e.Serve()
	e.Must("", "user", "disable", "alice")
	testkit.AssertError(t, srv.Login(t, "alice", alicePassword), http.StatusUnauthorized, "invalid_credentials")
	if out := e.Must("", "user", "enable", "alice"); out != "enabled alice\n" {
		t.Errorf("user enable printed %q", out)
	}
	if r := srv.Login(t, "alice", alicePassword); r.Status != http.StatusOK {
		t.Fatalf("login after enable: %d %s", r.Status, r.Body)
	}
	if ev := e.AuditEvents("user.enabled"); len(ev) != 1 || ev[0]["target"] != "user:"+e.UserID("alice") {
		t.Errorf("user.enabled events %v, want one on alice", ev)
	}
	assertFails(t, e.Run("", "user", "enable", "nobody"), `user not found: "nobody"`)

	// Enabling an active user, or disabling a disabled one, changes and
	// records nothing, and says so.
	if out := e.Must("", "user", "enable", "ALICE"); out != "nothing to do: alice is active already\n" {
		t.Errorf("enabling an active user printed %q", out)
	}
	e.Must("", "user", "disable", "alice")
	if out := e.Must("", "user", "disable", "alice"); out != "nothing to do: alice is disabled already\n" {
		t.Errorf("disabling a disabled user printed %q", out)
	}
	if n, m := len(e.AuditEvents("user.enabled")), len(e.AuditEvents("user.disabled")); n != 1 || m != 2 {
		t.Errorf("%d user.enabled and %d user.disabled events, want 1 and 2", n, m)
	}
}

// cliTwins maps every admin API route to the iam command that does the
// same, or to why it has none. A new route fails the test until it is
// given one or the other.
var cliTwins = map[string]string{
	"GET /admin/v1/users":                                  "user list",
	"POST /admin/v1/users":                                 "user create",
	"GET /admin/v1/users/:id":                              "user describe",
	"POST /admin/v1/users/:id/disable":                     "user disable",
	"POST /admin/v1/users/:id/enable":                      "user enable",
	"POST /admin/v1/users/:id/password":                    "user set-password",
	"PUT /admin/v1/users/:id/roles/:role":                  "user add-role",
	"DELETE /admin/v1/users/:id/roles/:role":               "user remove-role",
	"GET /admin/v1/users/:id/sessions":                     "session list",
	"DELETE /admin/v1/users/:id/sessions/:session":         "session end",
	"GET /admin/v1/roles":                                  "role list",
	"POST /admin/v1/roles":                                 "role create",
	"GET /admin/v1/roles/:role":                            "role describe",
	"PATCH /admin/v1/roles/:role":                          "role update",
	"DELETE /admin/v1/roles/:role":                         "role delete",
	"PUT /admin/v1/roles/:role/permissions/:permission":    "role grant",
	"DELETE /admin/v1/roles/:role/permissions/:permission": "role revoke",
	"GET /admin/v1/permissions":                            "permission list",
	"POST /admin/v1/permissions":                           "permission create",
	"DELETE /admin/v1/permissions/:permission":             "permission delete",
	"GET /admin/v1/service-accounts":                       "service list",
	"POST /admin/v1/service-accounts":                      "service create",
	"GET /admin/v1/service-accounts/:id":                   "service describe",
	"POST /admin/v1/service-accounts/:id/rotate-secret":    "service rotate-secret",
	"POST /admin/v1/service-accounts/:id/disable":          "service disable",
	"GET /admin/v1/revocations":                            "none: which revocations are in force is decided by the bundle publisher (internal/bundle), which a command does not run",
	"POST /admin/v1/revocations":                           "none: its rules (one token's default expiry, the jti bound, the audit event) now live in tokens.Revoker, which a command can call; the structure change that moved them adds no command",
	"GET /admin/v1/audit-events":                           "audit list",
	"GET /admin/v1/decision-logs":                          "decision-logs list",
}

// cliOnly are the commands that are no admin API action's twin, and why.
var cliOnly = map[string]string{
	"serve":                 "the server itself",
	"migrate":               "the schema, on the host",
	"createsuperuser":       "the first administrator, before any admin token exists",
	"seed":                  "RBAC declared in a file, applied on the host",
	"import-django":         "a migration from a Django dump, on the host",
	"audit verify":          "checks the hash chain in the database",
	"audit tail":            "follows the trail as it is written",
	"keys list":             "signing keys are the host's; the API publishes only the JWKS",
	"keys prune":            "signing keys are the host's",
	"keys public":           "signing keys are the host's",
	"keys rotate":           "signing keys are the host's",
	"security blocks":       "login throttling, looked at by an operator on the host",
	"security unblock":      "login throttling, lifted by an operator on the host",
	"version":               "the binary's own",
	"help":                  "the binary's own",
	"completion bash":       "the binary's own",
	"completion fish":       "the binary's own",
	"completion powershell": "the binary's own",
	"completion zsh":        "the binary's own",
}

func TestAdminAPI_EveryRouteHasItsCLITwinAndEveryCommandARouteOrAReason(t *testing.T) {
	commands := map[string]bool{} // command path without "iam": is a leaf
	for _, p := range commandPaths(t) {
		_, out, _ := iam(append(p, "--help")...)
		commands[strings.Join(p, " ")] = !strings.Contains(out, "Available Commands:")
	}
	engine := httpapi.New(httpapi.Deps{Log: slog.New(slog.DiscardHandler)}).(*gin.Engine)
	routes, twins := map[string]bool{}, map[string]bool{}
	for _, r := range engine.Routes() {
		if !strings.HasPrefix(r.Path, "/admin/v1/") {
			continue
		}
		key := r.Method + " " + r.Path
		routes[key] = true
		twin, ok := cliTwins[key]
		switch leaf, exists := commands[twin]; {
		case !ok:
			t.Errorf("admin route %s has no CLI twin in cliTwins, nor a reason for none", key)
		case strings.HasPrefix(twin, "none: "):
		case !exists:
			t.Errorf("%s's twin `iam %s` does not exist", key, twin)
		case !leaf:
			t.Errorf("%s's twin `iam %s` is a group, not a command", key, twin)
		default:
			twins[twin] = true
		}
	}
	if len(routes) < 25 {
		t.Fatalf("%d admin routes in the route table, want the whole admin API", len(routes))
	}
	for key := range cliTwins {
		if !routes[key] {
			t.Errorf("cliTwins names %s, which the admin API does not serve", key)
		}
	}
	for path, leaf := range commands {
		_, only := cliOnly[path]
		switch {
		case !leaf:
		case twins[path] && only:
			t.Errorf("`iam %s` is an admin route's twin and in cliOnly", path)
		case !twins[path] && !only:
			t.Errorf("`iam %s` is no admin route's twin: give it one in cliTwins or say why in cliOnly", path)
		}
	}
	for path := range cliOnly {
		if !commands[path] {
			t.Errorf("cliOnly names `iam %s`, which is not a command", path)
		}
	}
}
