package tokens

import (
	"time"

	"github.com/gaia-platform/iam/internal/audit"
)

// RefreshRotation is one presentation of a refresh token, spending it for
// its successor.
type RefreshRotation struct {
	Presented   string // TokenHash of the token presented
	Next        string // TokenHash of its successor, stored if it wins
	NextSealed  []byte // the successor sealed under the presented token, kept with it for a retry
	At          time.Time
	IdleTimeout time.Duration // the family is over after this long unused
	ReuseGrace  time.Duration // a token spent this recently may be retried
	IP          string
}

// RefreshState is what the store knows of a presented token, read inside
// the rotation's transaction.
type RefreshState struct {
	Family     RefreshFamily
	SpentAt    *time.Time // nil: the family's current token
	UserActive bool
	// Successor is the sealed successor a spent token keeps (nil for one
	// spent before retries were kept); SuccessorSpent, whether that
	// successor was itself spent since.
	Successor      []byte
	SuccessorSpent bool
}

// RefreshVerdict is what a rotation does with a presented token.
type RefreshVerdict int

// The verdicts of Judge.
const (
	RefuseToken  RefreshVerdict = iota // ErrInvalidGrant, nothing changes
	RotateToken                        // spend it, store the successor
	RetryToken                         // spent within the grace, successor unspent: the same successor again
	RevokeFamily                       // reuse: revoke the family and the user's tokens
)

// Judge decides what presenting a token in state st does. RotateRefreshToken
// calls it inside the rotation's transaction, so every store follows one
// rule.
func (r RefreshRotation) Judge(st RefreshState) RefreshVerdict {
	f := st.Family
	switch {
	case f.RevokedAt != nil, !st.UserActive, !r.At.Before(f.ExpiresAt),
		r.IdleTimeout > 0 && r.At.Sub(f.LastUsedAt) >= r.IdleTimeout:
		return RefuseToken
	case st.SpentAt == nil:
		return RotateToken
	case r.ReuseGrace > 0 && r.At.Sub(*st.SpentAt) <= r.ReuseGrace && st.Successor != nil && !st.SuccessorSpent:
		return RetryToken
	}
	return RevokeFamily
}

// outcome is what a rotation answers once verdict v on st committed: the
// family and, for a retry, the sealed successor st holds.
func outcome(st RefreshState, v RefreshVerdict) (RefreshFamily, []byte, error) {
	switch v {
	case RefuseToken:
		return RefreshFamily{}, nil, ErrInvalidGrant
	case RevokeFamily:
		return RefreshFamily{}, nil, ErrRefreshReused
	case RetryToken:
		return st.Family, st.Successor, nil
	}
	return st.Family, nil, nil
}

// event is the audit event of verdict v on family f.
func (r RefreshRotation) event(f RefreshFamily, v RefreshVerdict) audit.Event {
	action := map[RefreshVerdict]string{
		RotateToken: audit.RefreshTokenRotated, RetryToken: audit.RefreshTokenRetried, RevokeFamily: audit.RefreshTokenReused,
	}[v]
	ev := audit.Event{At: r.At, Actor: "user:" + f.UserID.String(), Action: action, Target: "session:" + f.ID.String(), IP: r.IP}
	if v == RevokeFamily {
		ev.Details = map[string]any{"revoked": "session and the user's access tokens issued until now"}
	}
	return ev
}
