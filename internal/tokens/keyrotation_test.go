package tokens_test

import (
	"maps"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/tokens"
)

func TestKeyStates_FollowTheClockThroughARotation(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	minute := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	// k1 signed from minute 0; k2, rotated in at minute 10 with a 5m grace
	// and 15m tokens, signs from minute 15 and retires k1 after minute 31;
	// k3, rotated in at minute 12 before k2 activated, signs from 17.
	keys := []tokens.StoredKey{
		{ID: "k1", CreatedAt: minute(0), ActivatesAt: minute(0), RetireAfter: minute(31)},
		{ID: "k2", CreatedAt: minute(10), ActivatesAt: minute(15), RetireAfter: minute(33)},
		{ID: "k3", CreatedAt: minute(12), ActivatesAt: minute(17)},
	}
	for _, tc := range []struct {
		at   time.Time
		want map[string]string
	}{
		{minute(14), map[string]string{"k1": "active", "k2": "pending", "k3": "pending"}},
		{minute(15), map[string]string{"k1": "retiring", "k2": "active", "k3": "pending"}},
		{minute(17), map[string]string{"k1": "retiring", "k2": "retiring", "k3": "active"}},
		{minute(31).Add(-time.Nanosecond), map[string]string{"k1": "retiring", "k2": "retiring", "k3": "active"}},
		{minute(31), map[string]string{"k1": "retired", "k2": "retiring", "k3": "active"}},
		{minute(90), map[string]string{"k1": "retired", "k2": "retired", "k3": "active"}},
		// A replica whose clock runs behind the rotation that revoked every
		// other key still signs with the only key left.
		{minute(-5), map[string]string{"k3": "active"}},
	} {
		in := keys
		if len(tc.want) == 1 {
			in = keys[2:]
		}
		if got := tokens.KeyStates(in, tc.at); !maps.Equal(got, tc.want) {
			t.Errorf("at minute %v: %v, want %v", tc.at.Sub(t0).Minutes(), got, tc.want)
		}
	}
	if got := tokens.KeyStates(nil, t0); len(got) != 0 {
		t.Errorf("no keys: %v", got)
	}
}

func TestNewRotation_GraceAndRetireAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	r, err := tokens.NewRotation(now, 5*time.Minute, 15*time.Minute, false, "cli")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Key.ActivatesAt.Equal(now.Add(5*time.Minute)) || !r.RetireAfter.Equal(now.Add(21*time.Minute)) || r.RevokeOthers {
		t.Errorf("rotation activates %v, retires replaced keys after %v; want +5m and +21m", r.Key.ActivatesAt, r.RetireAfter)
	}
	if _, err := tokens.ParsePrivateKeyPEM(r.Key.PrivatePEM); err != nil || !r.Key.CreatedAt.Equal(now) {
		t.Errorf("generated key: %v, created %v", err, r.Key.CreatedAt)
	}
	r, err = tokens.NewRotation(now, 5*time.Minute, 15*time.Minute, true, "cli")
	if err != nil || !r.Key.ActivatesAt.Equal(now) || !r.RevokeOthers {
		t.Errorf("revoking rotation activates %v (revoke %v), %v; want now", r.Key.ActivatesAt, r.RevokeOthers, err)
	}
}
