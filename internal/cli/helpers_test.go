package cli_test

import (
	"strings"
	"testing"

	"github.com/gaia-platform/iam/internal/testkit"
)

// The helpers of more than one of this package's tests. Those they share
// with internal/httpapi's end-to-end tests are in internal/testkit.

const (
	alicePassword = "correct horse battery staple"
	rootPassword  = "admin passphrase of some length"
)

// assertFails checks that a command failed with exit code 1 and one line
// on stderr, "iam: ..." containing want.
func assertFails(t *testing.T, r testkit.Result, want string) {
	t.Helper()
	if r.Code != 1 {
		t.Fatalf("exit code %d, want 1 (stderr %q)", r.Code, r.Stderr)
	}
	line := strings.TrimSpace(r.Stderr)
	if strings.Contains(line, "\n") || !strings.HasPrefix(line, "iam: ") || !strings.Contains(line, want) {
		t.Fatalf("stderr %q, want one line starting iam: and containing %q", r.Stderr, want)
	}
}
