package testkit

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// DebianPython is the interpreter the Python client and its examples run
// on: Debian's, which sees Debian's python3-* packages (another python3
// may come first on PATH).
const DebianPython = "/usr/bin/python3"

// Python returns DebianPython once it imports modules, with
// clients/python on its path. Without them the test is skipped, except
// under CI=true, where it fails (`make deps` installs them).
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	script := "import " + strings.Join(append([]string{"gaia_iam"}, modules...), ", ")
	cmd := exec.Command(DebianPython, "-c", script)
	cmd.Env = PythonEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s cannot %s under CI=true: %v: %s", DebianPython, script, err, out)
		}
		t.Skipf("skipping: %s cannot %s (make deps installs them): %s", DebianPython, script, out)
	}
	return DebianPython
}

// RepoRoot is the module's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// PythonEnv is the environment with clients/python importable.
func PythonEnv(extra ...string) []string {
	env := append(os.Environ(), "PYTHONPATH="+filepath.Join(RepoRoot(), "clients", "python"), "PYTHONDONTWRITEBYTECODE=1")
	return append(env, extra...)
}

// StartProcess runs argv in dir with env until stop is called or the test
// ends, and returns what it printed so far on demand.
func StartProcess(t testing.TB, dir string, env []string, argv ...string) (stop func(), output func() string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	out := &LockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", argv[0], err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-exited
		})
	}
	t.Cleanup(stop)
	return stop, out.String
}
