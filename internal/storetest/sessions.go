package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/bundle"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/tokens"
)

// The suite's refresh policy: families live 10 minutes, idle after 3.
const (
	familyTTL  = 10 * time.Minute
	familyIdle = 3 * time.Minute
)

// startFamily stores a family for user opened at at(0) with token first.
func startFamily(t *testing.T, s Store, user uuid.UUID, first string) tokens.RefreshFamily {
	t.Helper()
	f := tokens.RefreshFamily{ID: uuid.New(), UserID: user, CreatedAt: at(0), LastUsedAt: at(0), ExpiresAt: at(0).Add(familyTTL)}
	ev := audit.Event{At: at(0), Actor: "user:" + user.String(), Action: audit.RefreshFamilyCreated, Target: "session:" + f.ID.String()}
	if err := tokens.CreateRefreshFamily(t.Context(), s, f, tokens.TokenHash(first), ev); err != nil {
		t.Fatalf("CreateRefreshFamily: %v", err)
	}
	return f
}

func rotation(presented, next string, when time.Time, grace time.Duration) tokens.RefreshRotation {
	return tokens.RefreshRotation{Presented: tokens.TokenHash(presented), Next: tokens.TokenHash(next),
		NextSealed: sealed(next), At: when, IdleTimeout: familyIdle, ReuseGrace: grace, IP: "192.0.2.1"}
}

// sealed stands for next sealed under its predecessor: stores keep and
// return it as opaque bytes.
func sealed(next string) []byte { return []byte("sealed:" + next) }

func rotate(t *testing.T, s Store, r tokens.RefreshRotation) (tokens.RefreshFamily, error) {
	t.Helper()
	f, retried, err := tokens.RotateRefreshToken(t.Context(), s, r)
	if err == nil && retried != nil {
		t.Fatalf("rotation of %s answered a retry's sealed successor %q", r.Presented, retried)
	}
	return f, err
}

// retry presents a spent token again, which must be answered with the
// successor the first rotation sealed.
func retry(t *testing.T, s Store, r tokens.RefreshRotation) (tokens.RefreshFamily, []byte, error) {
	t.Helper()
	return tokens.RotateRefreshToken(t.Context(), s, r)
}

func testRefreshRotation(t *testing.T, s Store) {
	u := createUser(t, s, "alice")
	f := startFamily(t, s, u.ID, "t1")
	got, err := rotate(t, s, rotation("t1", "t2", at(1), 0))
	if err != nil || got.ID != f.ID || !got.LastUsedAt.Equal(at(1)) {
		t.Fatalf("rotate t1 = %+v, %v; want family %s last used at %v", got, err, f.ID, at(1))
	}
	if _, err := rotate(t, s, rotation("t2", "t3", at(2), 0)); err != nil {
		t.Fatalf("rotate the successor t2: %v", err)
	}
	evs := events(t, s, audit.RefreshTokenRotated)
	if len(evs) != 2 {
		t.Fatalf("%d rotation events, want 2", len(evs))
	}
	wantEvent(t, evs[0], audit.Event{At: at(2), Actor: "user:" + u.ID.String(), Action: audit.RefreshTokenRotated,
		Target: "session:" + f.ID.String(), IP: "192.0.2.1"})
	if _, err := rotate(t, s, rotation("unknown", "x", at(2), 0)); !errors.Is(err, tokens.ErrInvalidGrant) {
		t.Errorf("unknown token: %v, want ErrInvalidGrant", err)
	}
}

func testRefreshReuse(t *testing.T, s Store) {
	u := createUser(t, s, "alice")
	f := startFamily(t, s, u.ID, "t1")
	if _, err := rotate(t, s, rotation("t1", "t2", at(1), 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := rotate(t, s, rotation("t1", "stolen", at(2), 0)); !errors.Is(err, tokens.ErrRefreshReused) {
		t.Fatalf("reuse of t1: %v, want ErrRefreshReused", err)
	}
	if _, err := rotate(t, s, rotation("t2", "t3", at(2), 0)); !errors.Is(err, tokens.ErrInvalidGrant) || errors.Is(err, tokens.ErrRefreshReused) {
		t.Errorf("the live successor after reuse: %v, want plain ErrInvalidGrant (family revoked)", err)
	}
	if _, err := rotate(t, s, rotation("stolen", "x", at(2), 0)); !errors.Is(err, tokens.ErrInvalidGrant) {
		t.Errorf("the reuse's would-be successor: %v, want ErrInvalidGrant (never stored)", err)
	}
	evs := events(t, s, audit.RefreshTokenReused)
	if len(evs) != 1 || evs[0].Target != "session:"+f.ID.String() {
		t.Fatalf("reuse events %+v, want one on the family", evs)
	}
	src, err := bundle.ReadSource(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if nb, ok := src.SubjectRevocations[u.ID.String()]; !ok || !nb.Equal(at(2)) {
		t.Errorf("subject revocation of alice = %v (%v), want %v", nb, ok, at(2))
	}
	if fams, _ := s.RefreshFamilies(t.Context(), u.ID, at(2)); len(fams) != 0 {
		t.Errorf("families after reuse %+v, want none", fams)
	}
}

func testRefreshConcurrent(t *testing.T, s Store) {
	u := createUser(t, s, "alice")
	startFamily(t, s, u.ID, "t1")
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, _, errs[i] = tokens.RotateRefreshToken(t.Context(), s, rotation("t1", "next-"+string(rune('a'+i)), at(1), 0))
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, tokens.ErrInvalidGrant):
			t.Errorf("a losing rotation failed with %v, want ErrInvalidGrant", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent rotations won, want exactly 1", won, n)
	}
	if c := countEvents(t, s, audit.RefreshTokenRotated); c != 1 {
		t.Errorf("%d rotation events, want 1", c)
	}
}

func testRefreshGrace(t *testing.T, s Store) {
	u := createUser(t, s, "alice")
	f := startFamily(t, s, u.ID, "t1")
	grace := 30 * time.Second
	if _, err := rotate(t, s, rotation("t1", "t2", at(1), grace)); err != nil {
		t.Fatal(err)
	}
	got, again, err := retry(t, s, rotation("t1", "t2b", at(1).Add(10*time.Second), grace))
	if err != nil || got.ID != f.ID || string(again) != string(sealed("t2")) {
		t.Fatalf("retry within grace = %+v, %q, %v; want the same family and t2's sealed successor", got, again, err)
	}
	if c := countEvents(t, s, audit.RefreshTokenRetried); c != 1 {
		t.Errorf("%d retry events, want 1", c)
	}
	if _, err := rotate(t, s, rotation("t2b", "x", at(2), grace)); !errors.Is(err, tokens.ErrInvalidGrant) || errors.Is(err, tokens.ErrRefreshReused) {
		t.Errorf("the retry's would-be successor: %v, want plain ErrInvalidGrant (never stored: no second branch)", err)
	}
	if _, err := rotate(t, s, rotation("t2", "t3", at(2), grace)); err != nil {
		t.Fatalf("the successor after a retry: %v", err)
	}
	// t1 is within its grace still, but its successor is spent: a client
	// that has moved on does not retry, so this is reuse.
	if _, _, err := retry(t, s, rotation("t1", "late", at(2), grace)); !errors.Is(err, tokens.ErrRefreshReused) {
		t.Errorf("t1 again after its successor was spent: %v, want ErrRefreshReused", err)
	}
}

func testRefreshGraceOver(t *testing.T, s Store) {
	u := createUser(t, s, "alice")
	startFamily(t, s, u.ID, "t1")
	grace := 30 * time.Second
	if _, err := rotate(t, s, rotation("t1", "t2", at(1), grace)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := retry(t, s, rotation("t1", "late", at(1).Add(grace+time.Second), grace)); !errors.Is(err, tokens.ErrRefreshReused) {
		t.Errorf("retry after the grace: %v, want ErrRefreshReused", err)
	}
	if _, err := rotate(t, s, rotation("t2", "t3", at(2), grace)); !errors.Is(err, tokens.ErrInvalidGrant) {
		t.Errorf("the successor after reuse: %v, want ErrInvalidGrant (family revoked)", err)
	}
}

func testRefreshConcurrentRetries(t *testing.T, s Store) {
	u := createUser(t, s, "alice")
	startFamily(t, s, u.ID, "t1")
	const n = 8
	var wg sync.WaitGroup
	retried := make([][]byte, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, retried[i], errs[i] = tokens.RotateRefreshToken(t.Context(), s, rotation("t1", fmt.Sprintf("next-%d", i), at(1), time.Minute))
		})
	}
	wg.Wait()
	var winner string
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent presentation %d within the grace: %v", i, err)
		}
		if retried[i] == nil {
			if winner != "" {
				t.Fatalf("two rotations won: %s and next-%d", winner, i)
			}
			winner = fmt.Sprintf("next-%d", i)
		}
	}
	for i, r := range retried {
		if r != nil && string(r) != string(sealed(winner)) {
			t.Errorf("presentation %d got %q, want the winner's %q", i, r, sealed(winner))
		}
	}
	if c := countEvents(t, s, audit.RefreshTokenRetried); c != n-1 {
		t.Errorf("%d retry events, want %d", c, n-1)
	}
}

func testRefreshRefusals(t *testing.T, s Store) {
	u := createUser(t, s, "alice")
	startFamily(t, s, u.ID, "idle")
	if _, err := rotate(t, s, rotation("idle", "x", at(0).Add(familyIdle), 0)); !errors.Is(err, tokens.ErrInvalidGrant) {
		t.Errorf("idle family: %v, want ErrInvalidGrant", err)
	}
	startFamily(t, s, u.ID, "old0")
	tok := "old0"
	for m := 2; m < 10; m += 2 { // used every 2 minutes: never idle
		next := fmt.Sprintf("old%d", m)
		if _, err := rotate(t, s, rotation(tok, next, at(m), 0)); err != nil {
			t.Fatalf("minute %d: %v", m, err)
		}
		tok = next
	}
	if _, err := rotate(t, s, rotation(tok, "x", at(0).Add(familyTTL), 0)); !errors.Is(err, tokens.ErrInvalidGrant) {
		t.Errorf("expired family: %v, want ErrInvalidGrant", err)
	}
	startFamily(t, s, u.ID, "disabled")
	if _, err := identity.SetUserState(t.Context(), s, u.ID, identity.StateDisabled, at(1), userEvent(audit.UserDisabled, u.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := rotate(t, s, rotation("disabled", "x", at(1), 0)); !errors.Is(err, tokens.ErrInvalidGrant) {
		t.Errorf("disabled user: %v, want ErrInvalidGrant", err)
	}
	if c := countEvents(t, s, audit.RefreshTokenReused); c != 0 {
		t.Errorf("refusals recorded %d reuse events, want 0", c)
	}
}

func testRefreshFamilies(t *testing.T, s Store) {
	alice, bob := createUser(t, s, "alice"), createUser(t, s, "bob")
	a1 := startFamily(t, s, alice.ID, "a1")
	a2 := startFamily(t, s, alice.ID, "a2")
	b1 := startFamily(t, s, bob.ID, "b1")
	ev := audit.Event{At: at(1), Actor: "user:" + alice.ID.String(), Action: audit.RefreshFamilyRevoked, Target: "session:" + b1.ID.String()}
	if ok, err := tokens.RevokeRefreshFamily(t.Context(), s, alice.ID, b1.ID, at(1), ev); ok || err != nil {
		t.Errorf("alice revoking bob's family = %v, %v; want false", ok, err)
	}
	ev.Target = "session:" + a1.ID.String()
	if ok, err := tokens.RevokeRefreshFamily(t.Context(), s, alice.ID, a1.ID, at(1), ev); !ok || err != nil {
		t.Errorf("alice revoking her family = %v, %v; want true", ok, err)
	}
	if ok, _ := tokens.RevokeRefreshFamily(t.Context(), s, alice.ID, a1.ID, at(1), ev); ok {
		t.Error("revoking a revoked family reported a change")
	}
	if c := countEvents(t, s, audit.RefreshFamilyRevoked); c != 1 {
		t.Errorf("%d revoke events, want 1", c)
	}
	if _, err := rotate(t, s, rotation("a1", "x", at(1), 0)); !errors.Is(err, tokens.ErrInvalidGrant) {
		t.Errorf("revoked family's token: %v, want ErrInvalidGrant", err)
	}
	fams, err := s.RefreshFamilies(t.Context(), alice.ID, at(1))
	if err != nil || len(fams) != 1 || fams[0].ID != a2.ID {
		t.Errorf("alice's families = %+v, %v; want only %s", fams, err, a2.ID)
	}
	if got, err := s.RefreshFamilyByToken(t.Context(), tokens.TokenHash("b1")); err != nil || got.ID != b1.ID || got.UserID != bob.ID {
		t.Errorf("RefreshFamilyByToken(b1) = %+v, %v", got, err)
	}
	if fams, _ := s.RefreshFamilies(t.Context(), alice.ID, at(0).Add(familyTTL)); len(fams) != 0 {
		t.Errorf("families listed after expiry: %+v", fams)
	}
}
