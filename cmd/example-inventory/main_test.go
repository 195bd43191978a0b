package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/testkit"
)

// startExample runs the example service in process, as testkit's
// InventoryService.
func startExample(t *testing.T, iamURL, cacheDir string, poll time.Duration) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	env := map[string]string{"IAM_URL": iamURL, "EXAMPLE_HTTP_ADDR": "127.0.0.1:0",
		"EXAMPLE_POLL_INTERVAL": poll.String(), "EXAMPLE_CACHE_DIR": cacheDir}
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, func(k string) string { return env[k] }, slog.New(slog.NewTextHandler(io.Discard, nil)), listening)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("example-inventory: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case addr := <-listening:
		return "http://" + addr, stop
	case err := <-done:
		t.Fatalf("example-inventory stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("example-inventory did not listen within 10s")
	}
	return "", stop
}

// TestExample_EnforcesPermissionsFromALiveIAM is the end-to-end
// story, in order, against a real IAM on PostgreSQL.
func TestExample_EnforcesPermissionsFromALiveIAM(t *testing.T) {
	testkit.InventoryStory(t, startExample)
}
