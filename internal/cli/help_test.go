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
		args  []string
		usage string
	}{
		{[]string{"user", "add-role", "alice"}, "usage: iam user add-role USERNAME ROLE"},
		{[]string{"user", "disable"}, "usage: iam user disable USERNAME"},
		{[]string{"role", "grant", "Analyst", "inventory.read", "extra"}, "usage: iam role grant ROLE PERMISSION"},
		{[]string{"user", "list", "extra"}, "usage: iam user list"},
	} {
		code, out, errOut := iam(tc.args...)
		if code == 0 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "iam: ") || !strings.Contains(errOut, tc.usage) {
			t.Errorf("iam %s = %d, stdout %q, stderr %q; want one line naming %q", strings.Join(tc.args, " "), code, out, errOut, tc.usage)
		}
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
	if r := e.Run("", "user", "enable", "nobody"); r.Code == 0 {
		t.Error("enabling an unknown user succeeded")
	}
}

// cliTwins maps every admin API route to the iam command that does the
// same, or to why it has none. A new route fails the test until it is
// given one or the other.
var cliTwins = map[string]string{
	"GET /admin/v1/users":                                  "user list",
	"POST /admin/v1/users":                                 "user create",
	"GET /admin/v1/users/:id":                              "user list",
	"POST /admin/v1/users/:id/disable":                     "user disable",
	"POST /admin/v1/users/:id/enable":                      "user enable",
	"POST /admin/v1/users/:id/password":                    "user set-password",
	"PUT /admin/v1/users/:id/roles/:role":                  "user add-role",
	"DELETE /admin/v1/users/:id/roles/:role":               "user remove-role",
	"GET /admin/v1/users/:id/sessions":                     "none: sessions are the user's own; the API lists them for a help desk",
	"DELETE /admin/v1/users/:id/sessions/:session":         "none: ending one session is an API or console action; iam user disable ends them all",
	"GET /admin/v1/roles":                                  "role list",
	"POST /admin/v1/roles":                                 "seed",
	"GET /admin/v1/roles/:role":                            "role list",
	"PATCH /admin/v1/roles/:role":                          "seed",
	"DELETE /admin/v1/roles/:role":                         "none: seeds never delete; removal is an API action",
	"PUT /admin/v1/roles/:role/permissions/:permission":    "role grant",
	"DELETE /admin/v1/roles/:role/permissions/:permission": "role revoke",
	"GET /admin/v1/permissions":                            "role list",
	"POST /admin/v1/permissions":                           "seed",
	"DELETE /admin/v1/permissions/:permission":             "none: seeds never delete; removal is an API action",
	"GET /admin/v1/service-accounts":                       "service list",
	"POST /admin/v1/service-accounts":                      "service create",
	"GET /admin/v1/service-accounts/:id":                   "service list",
	"POST /admin/v1/service-accounts/:id/rotate-secret":    "service rotate-secret",
	"POST /admin/v1/service-accounts/:id/disable":          "service disable",
	"GET /admin/v1/revocations":                            "none: the bundle's revocation list (GET /bundles/gaia.tar.gz) is the operator's view",
	"POST /admin/v1/revocations":                           "none: a subject's tokens are voided by iam user disable, remove-role or service disable; one token by its holder's logout",
	"GET /admin/v1/audit-events":                           "audit list",
	"GET /admin/v1/decision-logs":                          "decision-logs list",
}

func TestAdminAPI_EveryRouteHasItsCLITwinOrAReason(t *testing.T) {
	engine := httpapi.New(httpapi.Deps{Log: slog.New(slog.DiscardHandler)}).(*gin.Engine)
	seen := map[string]bool{}
	for _, r := range engine.Routes() {
		if !strings.HasPrefix(r.Path, "/admin/v1/") {
			continue
		}
		key := r.Method + " " + r.Path
		seen[key] = true
		twin, ok := cliTwins[key]
		switch {
		case !ok:
			t.Errorf("admin route %s has no CLI twin in cliTwins, nor a reason for none", key)
		case strings.HasPrefix(twin, "none: "):
		default:
			if code, _, _ := iam(append(strings.Fields(twin), "--help")...); code != 0 {
				t.Errorf("%s's twin `iam %s` does not exist", key, twin)
			}
			if code, out, _ := iam(append(strings.Fields(twin), "--help")...); code == 0 && strings.Contains(out, "Available Commands:") {
				t.Errorf("%s's twin `iam %s` is a group, not a command", key, twin)
			}
		}
	}
	for key := range cliTwins {
		if !seen[key] {
			t.Errorf("cliTwins names %s, which the admin API does not serve", key)
		}
	}
}
