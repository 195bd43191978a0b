package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/tokens"
)

var keyRotationContract = []contractTest{
	{"RotateSigningKey_RetiresOnlyTheKeyItReplacesAndAudits", testRotateRetires},
	{"RotateSigningKey_RevokeOthersDeletesEveryOtherKey", testRotateRevokes},
	{"RotateSigningKey_ConcurrentRotationsLeaveOneKeyInForce", testRotateConcurrent},
	{"PruneSigningKeys_DeletesOnlyKeysPastTheirRetireAfter", testPruneSigningKeys},
}

// keyRotation replaces the keys in force with fakeKey(n), activating at
// minute n+5 and retiring them at minute n+25.
func keyRotation(n int32, revoke bool) tokens.Rotation {
	k := fakeKey(n)
	k.ActivatesAt = at(int(n) + 5)
	return tokens.Rotation{Key: k, RetireAfter: at(int(n) + 25), RevokeOthers: revoke, Actor: audit.CLI}
}

func rotateKey(t *testing.T, s Store, r tokens.Rotation) {
	t.Helper()
	if err := s.RotateSigningKey(t.Context(), r); err != nil {
		t.Fatalf("RotateSigningKey(%s): %v", r.Key.ID, err)
	}
}

func firstKey(t *testing.T, s Store) {
	t.Helper()
	var calls atomic.Int32
	if _, err := s.EnsureSigningKey(t.Context(), countingGenerate(&calls)); err != nil {
		t.Fatal(err)
	}
}

func signingKeys(t *testing.T, s Store) []tokens.StoredKey {
	t.Helper()
	keys, err := s.SigningKeys(t.Context())
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	return keys
}

// wantKeys checks the stored keys, in order, as "kid activates retire"
// with minutes of the suite's clock and "-" for no retire-after.
func wantKeys(t *testing.T, s Store, want ...string) {
	t.Helper()
	var got []string
	minute := func(tm time.Time) string { return fmt.Sprint(int(tm.Sub(at(0)) / time.Minute)) }
	for _, k := range signingKeys(t, s) {
		retire := "-"
		if !k.RetireAfter.IsZero() {
			retire = minute(k.RetireAfter)
		}
		if !strings.HasPrefix(string(k.PrivatePEM), "-----BEGIN RSA PRIVATE KEY-----") || k.CreatedAt.IsZero() {
			t.Errorf("key %s lost its PEM or creation time: %+v", k.ID, k)
		}
		got = append(got, k.ID+" "+minute(k.ActivatesAt)+" "+retire)
	}
	if !slices.Equal(got, want) {
		t.Errorf("stored keys\n got %q\nwant %q", got, want)
	}
}

func testRotateRetires(t *testing.T, s Store) {
	firstKey(t, s)
	rotateKey(t, s, keyRotation(2, false))
	wantKeys(t, s, "test-kid-1 1 27", "test-kid-2 7 -")
	// A second rotation before the first activates replaces the pending
	// key only: the first key's retire-after stays.
	rotateKey(t, s, keyRotation(3, false))
	wantKeys(t, s, "test-kid-1 1 27", "test-kid-2 7 28", "test-kid-3 8 -")

	evs := events(t, s, audit.SigningKeyRotated)
	if len(evs) != 2 {
		t.Fatalf("%d %s events, want 2", len(evs), audit.SigningKeyRotated)
	}
	wantEvent(t, evs[0], audit.Event{At: at(3), Actor: audit.CLI, Action: audit.SigningKeyRotated, Target: "signing_key:test-kid-3",
		Details: map[string]any{"activates_at": at(8).Format(time.RFC3339), "replaces": []any{"test-kid-2"}, "replaced_retire_after": at(28).Format(time.RFC3339)}})
	if n := countEvents(t, s, audit.SigningKeyRevoked); n != 0 {
		t.Errorf("%d %s events, want 0", n, audit.SigningKeyRevoked)
	}
}

func testRotateRevokes(t *testing.T, s Store) {
	firstKey(t, s)
	rotateKey(t, s, keyRotation(2, false))
	r := keyRotation(3, true)
	r.Key.ActivatesAt = r.Key.CreatedAt
	rotateKey(t, s, r)
	wantKeys(t, s, "test-kid-3 3 -")
	var revoked []string
	for _, ev := range events(t, s, audit.SigningKeyRevoked) {
		revoked = append(revoked, ev.Target)
	}
	slices.Sort(revoked)
	if want := []string{"signing_key:test-kid-1", "signing_key:test-kid-2"}; !slices.Equal(revoked, want) {
		t.Errorf("revoked events for %q, want %q", revoked, want)
	}
	if evs := events(t, s, audit.SigningKeyRotated); len(evs) != 2 || evs[0].Details["revoke_current"] != true {
		t.Errorf("rotated events %+v, want the newest to say revoke_current", evs)
	}
}

// Rotations racing from two commands (or replicas) must each replace the
// key before them, never both replace the same key and leave two in force.
func testRotateConcurrent(t *testing.T, s Store) {
	firstKey(t, s)
	const rotators = 4
	var wg sync.WaitGroup
	for i := range rotators {
		wg.Go(func() {
			if err := s.RotateSigningKey(t.Context(), keyRotation(int32(i+2), false)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	keys := signingKeys(t, s)
	inForce := 0
	for _, k := range keys {
		if k.RetireAfter.IsZero() {
			inForce++
		}
	}
	if len(keys) != rotators+1 || inForce != 1 {
		t.Errorf("%d keys, %d without a retire-after; want %d and 1", len(keys), inForce, rotators+1)
	}
	if n := countEvents(t, s, audit.SigningKeyRotated); n != rotators {
		t.Errorf("%d %s events, want %d", n, audit.SigningKeyRotated, rotators)
	}
}

func testPruneSigningKeys(t *testing.T, s Store) {
	firstKey(t, s)
	rotateKey(t, s, keyRotation(2, false)) // test-kid-1 retires after minute 27
	prune := func(n int) []string {
		t.Helper()
		pruned, err := s.PruneSigningKeys(t.Context(), at(n), "cli:ops")
		if err != nil {
			t.Fatalf("PruneSigningKeys at minute %d: %v", n, err)
		}
		var kids []string
		for _, k := range pruned {
			kids = append(kids, k.ID)
		}
		return kids
	}
	if got := prune(26); len(got) != 0 {
		t.Errorf("pruned %q a minute before its retire-after, want nothing", got)
	}
	wantKeys(t, s, "test-kid-1 1 27", "test-kid-2 7 -")
	if got := prune(27); !slices.Equal(got, []string{"test-kid-1"}) {
		t.Errorf("pruned %q at its retire-after, want test-kid-1", got)
	}
	wantKeys(t, s, "test-kid-2 7 -")
	if got := prune(1000); len(got) != 0 {
		t.Errorf("pruned %q, want the key in force kept however late", got)
	}
	evs := events(t, s, audit.SigningKeyPruned)
	if len(evs) != 1 {
		t.Fatalf("%d %s events, want 1", len(evs), audit.SigningKeyPruned)
	}
	wantEvent(t, evs[0], audit.Event{At: at(27), Actor: "cli:ops", Action: audit.SigningKeyPruned, Target: "signing_key:test-kid-1",
		Details: map[string]any{"retire_after": at(27).Format(time.RFC3339)}})
}
