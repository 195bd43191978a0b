package storetest

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/audit"
)

// The suite's clock and the checks of audit events and string lists that
// contracts of every domain use.

// at returns the n-th minute of the suite's clock, at microsecond precision
// as every store keeps it.
func at(n int) time.Time {
	return time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC).Add(time.Duration(n) * time.Minute)
}

func events(t *testing.T, s Store, action string) []audit.Stored {
	t.Helper()
	evs, err := s.AuditEvents(t.Context(), action, 10000)
	if err != nil {
		t.Fatalf("AuditEvents(%q): %v", action, err)
	}
	return evs
}

func countEvents(t *testing.T, s Store, action string) int {
	t.Helper()
	return len(events(t, s, action))
}

func wantEvent(t *testing.T, got audit.Stored, want audit.Event) {
	t.Helper()
	if len(want.Details) == 0 && len(got.Details) == 0 {
		want.Details = got.Details
	}
	if !got.At.Equal(want.At) || got.Actor != want.Actor || got.Action != want.Action || got.Target != want.Target ||
		got.IP != want.IP || !reflect.DeepEqual(got.Details, want.Details) {
		t.Errorf("audit event\n got %+v\nwant %+v", got.Event, want)
	}
}

func wantStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}
