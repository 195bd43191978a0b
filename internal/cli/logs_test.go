package cli_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/cli"
	"github.com/gaia-platform/iam/internal/testkit"
)

// A log format other than text or json stops every command that logs,
// whether it comes from the flag or the environment, with one line
// naming the variable.
func TestLogFormat_ABadValueIsOneLineNamingTheVariable(t *testing.T) {
	e := testkit.NewIAM(t)
	for _, args := range [][]string{{"user", "list"}, {"serve", "--http-addr", "127.0.0.1:0"}, {"migrate"}} {
		assertFails(t, e.Run("", append([]string{"--log-format", "xml"}, args...)...), `IAM_LOG_FORMAT "xml" is not text or json`)
	}
	t.Setenv("IAM_LOG_FORMAT", "JSON")
	var out, errb strings.Builder
	code := cli.Run(context.Background(), []string{"--database-url", e.DatabaseURL, "serve", "--http-addr", "127.0.0.1:0"},
		cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	assertFails(t, testkit.Result{Code: code, Stderr: errb.String()}, `IAM_LOG_FORMAT "JSON" is not text or json`)
}

// iam serve logs text (slog's key=value lines) when neither the flag nor
// the variable names a format.
func TestLogFormat_ServeLogsTextByDefault(t *testing.T) {
	t.Setenv("IAM_LOG_FORMAT", "") // restored when the test ends
	os.Unsetenv("IAM_LOG_FORMAT")
	e := testkit.NewIAM(t)
	addr := testkit.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testkit.LockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(ctx, []string{"--database-url", e.DatabaseURL, "serve", "--http-addr", addr, "--signing-key-file", e.KeyFile},
			cli.IO{In: strings.NewReader(""), Out: io.Discard, Err: logs})
	}()
	testkit.Eventually(t, 30*time.Second, "iam serve ready", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("iam serve exited %d: %s", code, logs)
	}
	for _, want := range []string{"level=INFO msg=listening addr=" + addr, "level=INFO msg=request request_id=", "route=/readyz",
		`msg="shutting down`, `msg="background work stopped"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("text logs lack %q:\n%s", want, logs)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if !strings.HasPrefix(line, "time=") {
			t.Errorf("a line that is not slog's text format: %s", line)
		}
	}
}
