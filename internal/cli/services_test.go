package cli_test

import (
	"strings"
	"testing"

	"github.com/gaia-platform/iam/internal/testkit"
)

func TestServiceCLI_CreateListAndErrors(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	out := e.Must("", "service", "create", "reporting", "--role", "analyst", "--role", "Viewer")
	if !strings.Contains(out, "created service account reporting with roles [Analyst, Viewer]") ||
		!strings.Contains(out, "client_id:") || !strings.Contains(out, "client_secret:") {
		t.Errorf("service create printed %q", out)
	}
	e.NewService("billing")
	list := e.Must("", "service", "list")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "billing") || !strings.Contains(lines[2], "active") || !strings.HasSuffix(lines[2], "Analyst,Viewer") {
		t.Errorf("service list:\n%s", list)
	}
	if strings.Contains(list, "hmac") {
		t.Error("service list shows secret hashes")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"service", "create", "reporting"}, "already taken"},
		{[]string{"service", "create", "Bad Name"}, "invalid service account name"},
		{[]string{"service", "create", "x", "--role", "NoSuchRole"}, "unknown role"},
		{[]string{"service", "create", "x", "--output", "yaml"}, "want text or json"},
		{[]string{"service", "disable", "nobody"}, "service account not found"},
		{[]string{"service", "rotate-secret", "nobody"}, "service account not found"},
		{[]string{"--client-secret-pepper", "short", "service", "list"}, "at least 32 characters"},
	} {
		r := e.Run("", c.args...)
		if r.Code == 0 || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("iam %s: exit %d, stderr %q, want an error with %q", strings.Join(c.args, " "), r.Code, r.Stderr, c.want)
		}
	}
	ev := e.AuditEvents("service_account.created")
	if len(ev) != 2 {
		t.Fatalf("%d service_account.created events, want 2", len(ev))
	}
	if n := len(e.AuditEvents("client_secret_pepper.created")); n != 1 {
		t.Errorf("%d client_secret_pepper.created events, want 1", n)
	}
}
