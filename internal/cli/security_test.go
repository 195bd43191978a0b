package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/testkit"
)

func TestSecurityCLI_UnblockLiftsTheLockAtOnce(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Clock = testkit.NewClock() // as the throttle's own tests have it
	e.WithUser("alice", alicePassword, "Viewer")
	srv := e.Serve("--login-max-failures-ip", "5")
	srv.FailLogins(t, 5, "alice")
	testkit.AssertThrottled(t, srv.Login(t, "alice", alicePassword), time.Minute)

	if out := e.Must("", "security", "unblock", "--user", "Alice"); out != "unblocked user Alice\n" {
		t.Errorf("unblock --user: %q", out)
	}
	// The IP reached its limit too: alice is still refused until it is
	// lifted.
	testkit.AssertThrottled(t, srv.Login(t, "alice", alicePassword), time.Minute)
	if out := e.Must("", "security", "unblock", "--ip", "127.0.0.1"); out != "unblocked ip 127.0.0.1\n" {
		t.Errorf("unblock --ip: %q", out)
	}
	srv.Token(t, "alice", alicePassword)
	if out := e.Must("", "security", "unblock", "--ip", "127.0.0.1"); !strings.Contains(out, "was not blocked") {
		t.Errorf("second unblock --ip: %q, want that there was nothing to lift", out)
	}
	unblocked := e.AuditEvents("security.unblocked")
	if len(unblocked) != 2 {
		t.Errorf("security.unblocked events %v, want 2", unblocked)
	}
	for _, args := range [][]string{
		{"security", "unblock"},
		{"security", "unblock", "--ip", "127.0.0.1", "--user", "alice"},
		{"security", "unblock", "--ip", "not-an-ip"},
	} {
		r := e.Run("", args...)
		if r.Code == 0 || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 || r.Stderr == "" {
			t.Errorf("iam %s: exit %d, stderr %q; want a one-line error", strings.Join(args, " "), r.Code, r.Stderr)
		}
	}
}
