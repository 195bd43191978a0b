// Package examples holds the example services of other languages; this
// test holds each to the same end-to-end story as cmd/example-inventory,
// against a real IAM.
package examples_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/testkit"
)

// exampleService starts the example in dir with the argv command returns
// (ADDR in it replaced by the service's address), as a
// testkit.InventoryService.
func exampleService(dir string, command func(t *testing.T) []string) testkit.InventoryService {
	return func(t *testing.T, iamURL, cacheDir string, poll time.Duration) (string, func()) {
		t.Helper()
		argv := command(t)
		addr := testkit.FreeAddr(t)
		for i, a := range argv {
			argv[i] = strings.ReplaceAll(a, "ADDR", addr)
		}
		env := testkit.PythonEnv("IAM_URL="+iamURL, "EXAMPLE_HTTP_ADDR="+addr,
			fmt.Sprintf("GAIA_IAM_POLL_INTERVAL=%g", poll.Seconds()), "GAIA_IAM_CACHE_DIR="+cacheDir)
		stop, output := testkit.StartProcess(t, filepath.Join(testkit.RepoRoot(), "examples", dir), env, argv...)
		base := "http://" + addr
		testkit.Eventually(t, 20*time.Second, dir+" answers", func() bool {
			resp, err := http.Get(base + "/healthz")
			if err == nil {
				resp.Body.Close()
			}
			return err == nil
		})
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("%s printed:\n%s", dir, output())
			}
		})
		return base, stop
	}
}

func TestDjangoExample_EnforcesPermissionsFromALiveIAM(t *testing.T) {
	t.Parallel()
	testkit.InventoryStory(t, exampleService("django-inventory", func(t *testing.T) []string {
		return []string{testkit.Python(t, "django", "rest_framework"), "manage.py", "runserver", "--noreload", "ADDR"}
	}))
}

func TestFastAPIExample_EnforcesPermissionsFromALiveIAM(t *testing.T) {
	t.Parallel()
	testkit.InventoryStory(t, exampleService("fastapi-inventory", func(t *testing.T) []string {
		return []string{testkit.Python(t, "fastapi", "uvicorn"), "main.py"}
	}))
}

func TestExpressExample_EnforcesPermissionsFromALiveIAM(t *testing.T) {
	t.Parallel()
	testkit.InventoryStory(t, exampleService("express-inventory", func(t *testing.T) []string {
		return []string{testkit.NodeProject(t, "examples/express-inventory"), "server.js"}
	}))
}
