package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// NodeProject returns the path of node once dir (relative to the
// repository) has its dependencies installed (`make node-deps`, which
// `make test` runs first, does `npm ci` there). Without node or the
// dependencies the test is skipped, except under CI=true, where it fails.
func NodeProject(t testing.TB, dir string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(RepoRoot(), dir, "node_modules"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node and %s's dependencies are needed under CI=true (make node-deps): %v", dir, err)
		}
		t.Skipf("skipping: %v (make node-deps installs them)", err)
	}
	return node
}
