package testkit

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	opaOnce sync.Once
	opaPath string
	opaErr  error
)

// OPABinary returns the path of an opa binary built from the OPA module
// version this module pins (go.mod's tool line), building it once per test
// process. When it cannot be built the test is skipped, except under
// CI=true, where it fails.
func OPABinary(t testing.TB) string {
	t.Helper()
	opaOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gaia-opa-")
		if err != nil {
			opaErr = err
			return
		}
		opaPath = filepath.Join(dir, "opa")
		cmd := exec.Command("go", "build", "-o", opaPath, "github.com/open-policy-agent/opa")
		if out, err := cmd.CombinedOutput(); err != nil {
			opaErr = fmt.Errorf("go build opa: %v: %s", err, out)
		}
	})
	if opaErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot build opa under CI=true: %v", opaErr)
		}
		t.Skipf("skipping: cannot build opa from the pinned module: %v", opaErr)
	}
	return opaPath
}

// StartOPA runs `opa run --server` with the given config file, environment
// and extra arguments on a free port, and returns its base URL once it
// answers. It stops when the test ends.
func StartOPA(t testing.TB, configFile string, env []string, args ...string) string {
	t.Helper()
	bin := OPABinary(t)
	configFile, err := filepath.Abs(configFile)
	if err != nil {
		t.Fatal(err)
	}
	addr := FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	argv := append([]string{"run", "--server", "--addr", addr, "--config-file", configFile, "--log-level", "error"}, args...)
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start opa: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	url := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
			return url
		}
		select {
		case <-exited:
			t.Fatalf("opa exited: %s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			<-exited // out is written by the process until it ends
			t.Fatalf("opa did not answer within 30s: %s", out.String())
		}
	}
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
