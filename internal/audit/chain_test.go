package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/audit"
)

// A link is hashed as the stores keep it, to the microsecond: hashed from
// the event's own nanoseconds, it would not verify once read back.
func TestNextLink_VerifiesAsStored(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6_789_123, time.FixedZone("CET", 3600))
	first, _, err := audit.NextLink("", 1, audit.Event{At: at, Actor: "cli", Action: audit.RoleCreated, Details: map[string]any{"description": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	second, details, err := audit.NextLink(first.Hash, 2, audit.Event{At: at, Actor: "cli", Action: audit.RoleDeleted})
	if err != nil {
		t.Fatal(err)
	}
	if want := audit.Truncate(at); !first.At.Equal(want) || first.At.Location() != time.UTC {
		t.Errorf("At = %v, want %v in UTC", first.At, want)
	}
	if string(details) != "{}" || second.PrevHash != first.Hash {
		t.Errorf("second link: details %s, prev %q; want {}, %q", details, second.PrevHash, first.Hash)
	}
	chain := []audit.Link{first, second}
	n, err := audit.Verify(context.Background(), func(_ context.Context, after int64, _ int) ([]audit.Link, error) {
		return chain[after:], nil
	})
	if err != nil || n != 2 {
		t.Errorf("Verify = %d, %v; want 2, nil", n, err)
	}
}
