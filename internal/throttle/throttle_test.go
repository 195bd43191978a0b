package throttle

import (
	"strings"
	"testing"
	"time"
)

func TestPolicyLock_LengthDoublesToTheCap(t *testing.T) {
	p := Policy{MaxUserFailures: 5, MaxIPFailures: 50, Window: 15 * time.Minute, LockBase: time.Minute, LockMax: time.Hour}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		prevStreak int
		prevEnded  time.Duration // before t0
		want       time.Duration
		wantStreak int
	}{
		{0, 0, time.Minute, 1},
		{1, time.Minute, 2 * time.Minute, 2},
		{5, time.Hour, 32 * time.Minute, 6},
		{6, time.Hour, time.Hour, 7},
		{1000, time.Hour, time.Hour, 1001}, // no overflow however long the streak
		{9, StreakMemory, time.Minute, 1},  // a day later the streak starts over
	} {
		prev := &Block{Kind: KindUser, Subject: "alice", Since: t0.Add(-tc.prevEnded - time.Minute), Until: t0.Add(-tc.prevEnded), Streak: tc.prevStreak}
		b, ok := p.Lock(KindUser, "alice", 5, prev, t0)
		if !ok || b.Until.Sub(b.Since) != tc.want || b.Streak != tc.wantStreak || !b.Since.Equal(t0) {
			t.Errorf("after a streak of %d: lock %v %+v, want %v with streak %d", tc.prevStreak, ok, b, tc.want, tc.wantStreak)
		}
	}
	if _, ok := p.Lock(KindUser, "alice", 4, nil, t0); ok {
		t.Error("4 failures locked an account at a limit of 5")
	}
	if _, ok := p.Lock(KindIP, "192.0.2.1", 49, nil, t0); ok {
		t.Error("49 failures blocked an IP at a limit of 50")
	}
	active := &Block{Kind: KindUser, Subject: "alice", Since: t0, Until: t0.Add(time.Minute), Streak: 1}
	if _, ok := p.Lock(KindUser, "alice", 9, active, t0.Add(time.Second)); ok {
		t.Error("a locked account was locked again")
	}
}

func TestUserKey_FoldedStorableAndBounded(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"Alice", "alice"},
		{"  ＡＬＩＣＥ ", "alice"},
		{"mal\x00lory", "mal\uFFFDlory"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{strings.Repeat("x", 10000), strings.Repeat("x", 150)},
	} {
		if got := userKey(tc.name); got != tc.want {
			t.Errorf("userKey(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
