package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/throttle"
)

var throttlingContract = []contractTest{
	{"RecordLoginFailure_LocksAtTheLimitWithinTheWindow", testThrottleLocksAtLimit},
	{"RecordLoginFailure_OldFailuresFallOutOfTheWindow", testThrottleWindowSlides},
	{"RecordLoginFailure_SuccessiveLocksDoubleUpToTheCap", testThrottleBackOff},
	{"RecordLoginFailure_ConcurrentFailuresLockOnce", testThrottleConcurrent},
	{"ClearLoginFailures_ForgetsTheAccountsFailuresOnly", testThrottleClear},
	{"Unblock_EndsTheLockAndAuditsOnlyAChange", testThrottleUnblock},
}

// throttlePolicy locks an account at 3 failures and an IP at 5, within
// 10 minutes, for 1 minute doubling up to 4.
var throttlePolicy = throttle.Policy{MaxUserFailures: 3, MaxIPFailures: 5, Window: 10 * time.Minute,
	LockBase: time.Minute, LockMax: 4 * time.Minute}

func fail(t *testing.T, s Store, user, ip string, when time.Time) []throttle.Block {
	t.Helper()
	locks, err := throttle.RecordLoginFailure(t.Context(), s, throttle.Failure{UserKey: user, IP: ip, At: when}, throttlePolicy)
	if err != nil {
		t.Fatalf("RecordLoginFailure(%s, %s): %v", user, ip, err)
	}
	return locks
}

func blockedUntil(t *testing.T, s Store, user, ip string, when time.Time) time.Time {
	t.Helper()
	until, err := s.LoginBlockedUntil(t.Context(), user, ip, when)
	if err != nil {
		t.Fatalf("LoginBlockedUntil: %v", err)
	}
	return until
}

func testThrottleLocksAtLimit(t *testing.T, s Store) {
	for i := range 2 {
		if locks := fail(t, s, "alice", "192.0.2.1", at(i)); len(locks) != 0 {
			t.Fatalf("failure %d locked %+v, want no lock below the limit", i+1, locks)
		}
	}
	if u := blockedUntil(t, s, "alice", "192.0.2.9", at(2)); !u.IsZero() {
		t.Fatalf("blocked until %v after 2 failures, want not blocked", u)
	}
	locks := fail(t, s, "alice", "192.0.2.1", at(2))
	want := throttle.Block{Kind: throttle.KindUser, Subject: "alice", Since: at(2), Until: at(3), Streak: 1}
	if len(locks) != 1 || locks[0] != want {
		t.Fatalf("third failure locked %+v, want %+v", locks, want)
	}
	if u := blockedUntil(t, s, "alice", "198.51.100.7", at(2)); !u.Equal(at(3)) {
		t.Errorf("alice from another IP blocked until %v, want %v", u, at(3))
	}
	if u := blockedUntil(t, s, "bob", "192.0.2.1", at(2)); !u.IsZero() {
		t.Errorf("bob from alice's IP blocked until %v: the IP is below its limit", u)
	}
	if u := blockedUntil(t, s, "alice", "192.0.2.1", at(3)); !u.IsZero() {
		t.Errorf("alice still blocked at the lock's end (%v)", u)
	}
	evs := events(t, s, audit.LoginLocked)
	if len(evs) != 1 || evs[0].Target != "username:alice" || evs[0].IP != "192.0.2.1" {
		t.Errorf("login.locked events %+v, want one on username:alice from 192.0.2.1", evs)
	}
	// The IP reaches its limit of 5 over several account names.
	fail(t, s, "carol", "192.0.2.1", at(3))
	locks = fail(t, s, "dave", "192.0.2.1", at(3))
	if len(locks) != 1 || locks[0].Kind != throttle.KindIP || locks[0].Subject != "192.0.2.1" {
		t.Fatalf("fifth failure from the IP locked %+v, want the IP", locks)
	}
	if u := blockedUntil(t, s, "erin", "192.0.2.1", at(3)); !u.Equal(at(4)) {
		t.Errorf("a new name from the blocked IP blocked until %v, want %v", u, at(4))
	}
	if n := countEvents(t, s, audit.IPBlocked); n != 1 {
		t.Errorf("%d ip.blocked events, want 1", n)
	}
	blocks, err := s.Blocks(t.Context(), at(3))
	if err != nil || len(blocks) != 1 || blocks[0].Kind != throttle.KindIP {
		t.Errorf("Blocks at the IP block = %+v, %v; want the IP only (alice's lock is over)", blocks, err)
	}
}

func testThrottleWindowSlides(t *testing.T, s Store) {
	fail(t, s, "alice", "192.0.2.1", at(0))
	fail(t, s, "alice", "192.0.2.2", at(5))
	// The first failure is 10 minutes old: out of the window.
	if locks := fail(t, s, "alice", "192.0.2.3", at(10)); len(locks) != 0 {
		t.Fatalf("failures at 0, 5 and 10 min locked %+v with a 10 min window", locks)
	}
	if locks := fail(t, s, "alice", "192.0.2.3", at(11)); len(locks) != 1 {
		t.Fatalf("failures at 5, 10 and 11 min locked %+v, want a lock", locks)
	}
}

func testThrottleBackOff(t *testing.T, s Store) {
	lock := func(start int) throttle.Block {
		t.Helper()
		var locks []throttle.Block
		for range throttlePolicy.MaxUserFailures {
			locks = fail(t, s, "alice", "192.0.2.1", at(start))
		}
		if len(locks) != 1 {
			t.Fatalf("failures at %d min locked %+v, want one lock", start, locks)
		}
		return locks[0]
	}
	// Failures before a lock do not count towards the next: it takes the
	// limit again, and each lock lasts twice the last, up to the cap.
	for i, c := range []struct{ start, minutes int }{{0, 1}, {1, 2}, {3, 4}, {7, 4}} {
		b := lock(c.start)
		if b.Streak != i+1 || b.Until.Sub(b.Since) != time.Duration(c.minutes)*time.Minute {
			t.Fatalf("lock %d: streak %d for %v, want streak %d for %d min", i+1, b.Streak, b.Until.Sub(b.Since), i+1, c.minutes)
		}
	}
	// A day after the last lock ended, the streak starts over.
	if b := lock(11 + int(throttle.StreakMemory/time.Minute)); b.Streak != 1 || b.Until.Sub(b.Since) != time.Minute {
		t.Errorf("lock a day later: streak %d for %v, want streak 1 for 1 min", b.Streak, b.Until.Sub(b.Since))
	}
}

func testThrottleConcurrent(t *testing.T, s Store) {
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := throttle.RecordLoginFailure(t.Context(), s, throttle.Failure{UserKey: "alice", IP: "192.0.2.1", At: at(0)}, throttlePolicy); err != nil {
				t.Errorf("RecordLoginFailure: %v", err)
			}
		})
	}
	wg.Wait()
	if n := countEvents(t, s, audit.LoginLocked); n != 1 {
		t.Errorf("%d login.locked events from 8 concurrent failures, want 1", n)
	}
	if n := countEvents(t, s, audit.IPBlocked); n != 1 {
		t.Errorf("%d ip.blocked events from 8 concurrent failures, want 1", n)
	}
}

func testThrottleClear(t *testing.T, s Store) {
	fail(t, s, "alice", "192.0.2.1", at(0))
	fail(t, s, "alice", "192.0.2.1", at(0))
	fail(t, s, "bob", "192.0.2.1", at(0))
	fail(t, s, "bob", "192.0.2.1", at(0))
	if err := throttle.ClearLoginFailures(t.Context(), s, "alice"); err != nil {
		t.Fatal(err)
	}
	if locks := fail(t, s, "alice", "192.0.2.1", at(1)); len(locks) != 0 {
		t.Errorf("a failure after a success locked %+v: the earlier ones should be forgotten", locks)
	}
	if locks := fail(t, s, "bob", "192.0.2.1", at(1)); len(locks) != 1 || locks[0].Subject != "bob" {
		t.Errorf("bob's third failure locked %+v, want bob: clearing alice keeps bob's", locks)
	}
}

func testThrottleUnblock(t *testing.T, s Store) {
	for range 3 {
		fail(t, s, "alice", "192.0.2.1", at(0))
	}
	ev := audit.Event{At: at(0), Actor: audit.CLI, Action: audit.SecurityUnblocked, Target: "username:alice"}
	for i, want := range []bool{true, false} {
		changed, err := throttle.Unblock(t.Context(), s, throttle.KindUser, "alice", ev)
		if err != nil || changed != want {
			t.Fatalf("Unblock #%d = %v, %v; want %v", i+1, changed, err, want)
		}
	}
	if n := countEvents(t, s, audit.SecurityUnblocked); n != 1 {
		t.Errorf("%d security.unblocked events, want 1 (the second unblock changed nothing)", n)
	}
	if u := blockedUntil(t, s, "alice", "192.0.2.1", at(0)); !u.IsZero() {
		t.Errorf("alice blocked until %v after unblock", u)
	}
	if locks := fail(t, s, "alice", "192.0.2.1", at(0)); len(locks) != 0 {
		t.Errorf("a failure after unblock locked %+v: the failures should be forgotten", locks)
	}
}
