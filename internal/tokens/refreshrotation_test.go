package tokens_test

import (
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/tokens"
)

func TestJudge_DecidesEachPresentation(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	live := tokens.RefreshFamily{CreatedAt: t0, LastUsedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	revoked := live
	revoked.RevokedAt = &t0
	spent := t0.Add(time.Minute)
	r := tokens.RefreshRotation{At: t0.Add(time.Minute + 5*time.Second), IdleTimeout: 10 * time.Minute}
	withGrace := r
	withGrace.ReuseGrace = 10 * time.Second
	successor := []byte("sealed")
	for _, tc := range []struct {
		name string
		r    tokens.RefreshRotation
		st   tokens.RefreshState
		want tokens.RefreshVerdict
	}{
		{"current token", r, tokens.RefreshState{Family: live, UserActive: true}, tokens.RotateToken},
		{"spent, no grace", r, tokens.RefreshState{Family: live, SpentAt: &spent, UserActive: true}, tokens.RevokeFamily},
		{"spent within grace", withGrace, tokens.RefreshState{Family: live, SpentAt: &spent, UserActive: true, Successor: successor}, tokens.RetryToken},
		{"spent within grace, successor spent", withGrace,
			tokens.RefreshState{Family: live, SpentAt: &spent, UserActive: true, Successor: successor, SuccessorSpent: true}, tokens.RevokeFamily},
		{"spent within grace before successors were kept", withGrace, tokens.RefreshState{Family: live, SpentAt: &spent, UserActive: true}, tokens.RevokeFamily},
		{"spent past the grace", tokens.RefreshRotation{At: spent.Add(11 * time.Second), IdleTimeout: 10 * time.Minute, ReuseGrace: 10 * time.Second},
			tokens.RefreshState{Family: live, SpentAt: &spent, UserActive: true, Successor: successor}, tokens.RevokeFamily},
		{"revoked family", r, tokens.RefreshState{Family: revoked, UserActive: true}, tokens.RefuseToken},
		{"revoked family, spent token", r, tokens.RefreshState{Family: revoked, SpentAt: &spent, UserActive: true}, tokens.RefuseToken},
		{"disabled user", r, tokens.RefreshState{Family: live}, tokens.RefuseToken},
		{"idle", tokens.RefreshRotation{At: t0.Add(10 * time.Minute), IdleTimeout: 10 * time.Minute},
			tokens.RefreshState{Family: live, UserActive: true}, tokens.RefuseToken},
		{"no idle timeout", tokens.RefreshRotation{At: t0.Add(59 * time.Minute)},
			tokens.RefreshState{Family: live, UserActive: true}, tokens.RotateToken},
		{"expired", tokens.RefreshRotation{At: t0.Add(time.Hour)}, tokens.RefreshState{Family: live, UserActive: true}, tokens.RefuseToken},
	} {
		if got := tc.r.Judge(tc.st); got != tc.want {
			t.Errorf("%s: verdict %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestTokenHash_IsHexSHA256(t *testing.T) {
	// SHA-256("abc"), FIPS 180-2 test vector.
	if got := tokens.TokenHash("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("TokenHash(abc) = %s", got)
	}
}
