package storetest

import (
	"encoding/pem"
	"errors"
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
	if err := tokens.RotateSigningKey(t.Context(), s, r); err != nil {
		t.Fatalf("RotateSigningKey(%s): %v", r.Key.ID, err)
	}
}

func firstKey(t *testing.T, s Store) {
	t.Helper()
	var calls atomic.Int32
	if _, err := tokens.EnsureSigningKey(t.Context(), s, countingGenerate(&calls)); err != nil {
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
			if err := tokens.RotateSigningKey(t.Context(), s, keyRotation(int32(i+2), false)); err != nil {
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
		pruned, err := tokens.PruneSigningKeys(t.Context(), s, at(n), "cli:ops")
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

// The first signing key: generated once, however many callers ask at once.

// fakeKey stands in for a generated key: stores keep the PEM as bytes and
// never parse it, and generating real RSA keys would dominate the suite.
func fakeKey(n int32) tokens.StoredKey {
	return tokens.StoredKey{
		ID:          fmt.Sprintf("test-kid-%d", n),
		PrivatePEM:  pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: fmt.Appendf(nil, "stand-in key %d", n)}),
		CreatedAt:   at(int(n)),
		ActivatesAt: at(int(n)),
	}
}

// countingGenerate returns distinct fake keys, so that two generations
// would show as two different kids.
func countingGenerate(calls *atomic.Int32) func() (tokens.StoredKey, error) {
	return func() (tokens.StoredKey, error) { return fakeKey(calls.Add(1)), nil }
}

func testSigningKeyOnce(t *testing.T, s Store) {
	var calls atomic.Int32
	gen := countingGenerate(&calls)
	want := fakeKey(1)
	for i := range 3 {
		got, err := tokens.EnsureSigningKey(t.Context(), s, gen)
		if err != nil {
			t.Fatalf("EnsureSigningKey call %d: %v", i+1, err)
		}
		if got.ID != want.ID || string(got.PrivatePEM) != string(want.PrivatePEM) || !got.CreatedAt.Equal(want.CreatedAt) {
			t.Fatalf("EnsureSigningKey call %d = %s created %v, want %s created %v", i+1, got.ID, got.CreatedAt, want.ID, want.CreatedAt)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("generate called %d times, want 1", n)
	}
	if n := countEvents(t, s, audit.SigningKeyCreated); n != 1 {
		t.Errorf("%d %s events, want 1", n, audit.SigningKeyCreated)
	}
}

func testSigningKeyConcurrent(t *testing.T, s Store) {
	const callers = 4
	var calls atomic.Int32
	var entered sync.WaitGroup
	entered.Add(callers)
	// Generating only once every caller has entered EnsureSigningKey keeps
	// the first caller's window open while the others arrive, so a store
	// that does not serialise generation shows it. A correct store cannot
	// deadlock here: callers enter before they wait on one another.
	gen := func() (tokens.StoredKey, error) {
		entered.Wait()
		return fakeKey(calls.Add(1)), nil
	}
	kids := make([]string, callers)
	errs := make([]error, callers)
	var ready, wg sync.WaitGroup
	ready.Add(callers)
	for i := range callers {
		wg.Go(func() {
			// A read first, side by side, so that a store with a
			// connection pool has connections ready for every caller.
			if _, err := s.Roles(t.Context()); err != nil {
				t.Error(err)
			}
			ready.Done()
			ready.Wait()
			entered.Done()
			k, err := tokens.EnsureSigningKey(t.Context(), s, gen)
			kids[i], errs[i] = k.ID, err
		})
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Errorf("caller %d: %v", i, errs[i])
		} else if kids[i] != kids[0] {
			t.Errorf("callers got kids %q, want one kid for all", kids)
			break
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("generate called %d times, want 1", n)
	}
}

func testSigningKeyGenerateError(t *testing.T, s Store) {
	boom := errors.New("entropy ran out")
	_, err := tokens.EnsureSigningKey(t.Context(), s, func() (tokens.StoredKey, error) { return tokens.StoredKey{}, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("EnsureSigningKey with failing generate = %v, want %v", err, boom)
	}
	var calls atomic.Int32
	got, err := tokens.EnsureSigningKey(t.Context(), s, countingGenerate(&calls))
	if err != nil || got.ID != fakeKey(1).ID || calls.Load() != 1 {
		t.Errorf("EnsureSigningKey after a failed generate = %s, %v with %d calls; want a fresh key", got.ID, err, calls.Load())
	}
}
