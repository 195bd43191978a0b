package tokens_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/store/sqlite"
	"github.com/gaia-platform/iam/internal/testkit"
	"github.com/gaia-platform/iam/internal/tokens"
)

// A rotation made elsewhere (the CLI, another replica) reaches a running
// keyring within its poll, and republishes once per change, not per poll.
func TestKeyringFollow_ReloadsARotationAndRepublishesOncePerChange(t *testing.T) {
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "iam.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	if _, err := store.Migrate(); err != nil {
		t.Fatal(err)
	}
	ring, err := tokens.LoadKeyring(t.Context(), store, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	first := ring.At(time.Now()).Signing.ID
	var republished atomic.Int32
	ctx, stop := context.WithCancel(t.Context())
	done := ring.Follow(ctx, 10*time.Millisecond, slog.New(slog.DiscardHandler), func(context.Context) error {
		republished.Add(1)
		return nil
	})
	time.Sleep(50 * time.Millisecond)
	if n := republished.Load(); n != 0 {
		t.Fatalf("republished %d times with no change, want 0", n)
	}
	r, err := tokens.NewRotation(time.Now(), 0, time.Minute, true, audit.CLI)
	if err != nil {
		t.Fatal(err)
	}
	if err := tokens.RotateSigningKey(t.Context(), store, r); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the keyring signs with the new key", func() bool {
		return ring.At(time.Now()).Signing.ID == r.Key.ID
	})
	time.Sleep(50 * time.Millisecond)
	if n := republished.Load(); n != 1 {
		t.Errorf("republished %d times after one rotation, want 1", n)
	}
	if ring.At(time.Now()).Signing.ID == first {
		t.Error("the revoked key still signs")
	}
	stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not stop with its context")
	}
}
