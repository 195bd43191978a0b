package tokens

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
)

// Refresh-token errors. Every refusal of a refresh token is one of them;
// the HTTP API answers each with invalid_grant and says no more, so a
// caller cannot tell an unknown token from an expired one.
var (
	// ErrInvalidGrant is an unknown, expired, idle or revoked refresh
	// token, or one whose user is no longer active.
	ErrInvalidGrant = errors.New("invalid refresh token")
	// ErrRefreshReused is a spent refresh token presented again: its
	// family and the user's access tokens were revoked.
	ErrRefreshReused = fmt.Errorf("%w: the token was already used; the session is revoked", ErrInvalidGrant)
	// ErrSessionNotFound is a session (refresh family) that is not the
	// user's, does not exist, or is over.
	ErrSessionNotFound = errors.New("session not found")
)

// RefreshFamily is one login's chain of refresh tokens: a session. Each
// refresh spends the family's current token and adds its successor.
type RefreshFamily struct {
	ID         uuid.UUID
	UserID     uuid.UUID
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time // absolute end, whatever the use
	RevokedAt  *time.Time
}

// RefreshRotation is one presentation of a refresh token to the store.
type RefreshRotation struct {
	Presented   string // TokenHash of the token presented
	Next        string // TokenHash of its successor, stored if it wins
	NextSealed  []byte // the successor sealed under the presented token, kept with it for a retry
	At          time.Time
	IdleTimeout time.Duration // the family is over after this long unused
	ReuseGrace  time.Duration // a token spent this recently may be retried
	IP          string
}

// RefreshStore keeps refresh families. Every method that changes one
// records its audit event in the same transaction.
type RefreshStore interface {
	// CreateRefreshFamily stores f with its first token.
	CreateRefreshFamily(ctx context.Context, f RefreshFamily, tokenHash string, ev audit.Event) error
	// RotateRefreshToken spends r.Presented and stores r.Next, and with
	// the spent token r.Next and r.NextSealed, in one transaction; of
	// concurrent rotations of one token exactly one succeeds. A retry
	// (RetryToken) stores nothing new and returns the sealed successor
	// the winning rotation kept; a rotation returns nil in its place. A
	// reuse (RevokeFamily) revokes the family and the user's tokens
	// issued until r.At, commits that, and returns ErrRefreshReused;
	// other refusals are ErrInvalidGrant.
	RotateRefreshToken(ctx context.Context, r RefreshRotation) (RefreshFamily, []byte, error)
	// RefreshFamilyByToken finds the family of a token, spent or not.
	RefreshFamilyByToken(ctx context.Context, tokenHash string) (RefreshFamily, error)
	// RevokeRefreshFamily ends user's family id at at, reporting false
	// (and recording nothing) when it is not user's or already revoked.
	RevokeRefreshFamily(ctx context.Context, user, id uuid.UUID, at time.Time, ev audit.Event) (bool, error)
	// RefreshFamilies lists user's unrevoked families that have not
	// expired at at, newest first.
	RefreshFamilies(ctx context.Context, user uuid.UUID, at time.Time) ([]RefreshFamily, error)
}

// TokenHash is how a refresh token is stored: hex SHA-256. The token has
// 256 bits of entropy, so a fast unsalted hash is enough.
func TokenHash(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// newRefreshToken is 32 bytes from crypto/rand, base64url without padding.
func newRefreshToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// SessionPolicy is how long refresh families live.
type SessionPolicy struct {
	TTL         time.Duration // absolute lifetime of a family
	IdleTimeout time.Duration // a family unused this long is over
	ReuseGrace  time.Duration // a retry this soon after spending gets the same successor; 0: any reuse revokes the family
}

// Sessions issues, rotates and ends refresh families.
type Sessions struct {
	store  RefreshStore
	policy SessionPolicy
	now    func() time.Time
}

// NewSessions returns Sessions kept in store under policy.
func NewSessions(store RefreshStore, policy SessionPolicy, now func() time.Time) *Sessions {
	return &Sessions{store: store, policy: policy, now: now}
}

// Start opens a new family for user and returns its first token.
func (s *Sessions) Start(ctx context.Context, user uuid.UUID, ip string) (string, RefreshFamily, error) {
	raw, err := newRefreshToken()
	if err != nil {
		return "", RefreshFamily{}, err
	}
	now := s.now().UTC()
	f := RefreshFamily{ID: uuid.New(), UserID: user, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(s.policy.TTL)}
	ev := audit.Event{At: now, Actor: "user:" + user.String(), Action: audit.RefreshFamilyCreated,
		Target: "session:" + f.ID.String(), IP: ip}
	if err := s.store.CreateRefreshFamily(ctx, f, TokenHash(raw), ev); err != nil {
		return "", RefreshFamily{}, err
	}
	return raw, f, nil
}

// Rotate spends raw and returns its successor and the family. Presenting
// raw again within the reuse grace, while its successor is unspent,
// returns the same successor: a client that lost the first answer keeps
// its session, and the family never branches.
func (s *Sessions) Rotate(ctx context.Context, raw, ip string) (string, RefreshFamily, error) {
	next, err := newRefreshToken()
	if err != nil {
		return "", RefreshFamily{}, err
	}
	sealed, err := sealSuccessor(raw, next)
	if err != nil {
		return "", RefreshFamily{}, err
	}
	f, retried, err := s.store.RotateRefreshToken(ctx, RefreshRotation{
		Presented: TokenHash(raw), Next: TokenHash(next), NextSealed: sealed, At: s.now().UTC(),
		IdleTimeout: s.policy.IdleTimeout, ReuseGrace: s.policy.ReuseGrace, IP: ip,
	})
	if err != nil {
		return "", RefreshFamily{}, err
	}
	if retried != nil {
		if next, err = openSuccessor(raw, retried); err != nil {
			return "", RefreshFamily{}, err
		}
	}
	return next, f, nil
}

// EndByToken revokes the family of raw when it is user's.
func (s *Sessions) EndByToken(ctx context.Context, user uuid.UUID, raw, ip string) error {
	f, err := s.store.RefreshFamilyByToken(ctx, TokenHash(raw))
	if err != nil {
		return err
	}
	return s.End(ctx, "user:"+user.String(), user, f.ID, ip)
}

// Revoke revokes the family of raw, whoever presents it: holding a
// refresh token, spent or current, is enough to end its session (RFC
// 7009). ErrInvalidGrant for an unknown token, ErrSessionNotFound for a
// family already over.
func (s *Sessions) Revoke(ctx context.Context, raw, ip string) error {
	f, err := s.store.RefreshFamilyByToken(ctx, TokenHash(raw))
	if err != nil {
		return err
	}
	return s.end(ctx, "user:"+f.UserID.String(), f.UserID, f.ID, ip, "revocation")
}

// FamilyOf is the family of raw, spent or not, when it is one of user's
// that is not revoked; ErrInvalidGrant otherwise.
func (s *Sessions) FamilyOf(ctx context.Context, user uuid.UUID, raw string) (RefreshFamily, error) {
	f, err := s.store.RefreshFamilyByToken(ctx, TokenHash(raw))
	if err == nil && (f.UserID != user || f.RevokedAt != nil) {
		err = ErrInvalidGrant
	}
	return f, err
}

// End revokes user's family id on behalf of actor (the user, or an
// administrator); ErrSessionNotFound when it is not an active family of
// user's.
func (s *Sessions) End(ctx context.Context, actor string, user, id uuid.UUID, ip string) error {
	reason := "logout"
	if actor != "user:"+user.String() {
		reason = "revoked by an administrator"
	}
	return s.end(ctx, actor, user, id, ip, reason)
}

func (s *Sessions) end(ctx context.Context, actor string, user, id uuid.UUID, ip, reason string) error {
	now := s.now().UTC()
	ev := audit.Event{At: now, Actor: actor, Action: audit.RefreshFamilyRevoked,
		Target: "session:" + id.String(), IP: ip, Details: map[string]any{"reason": reason}}
	ok, err := s.store.RevokeRefreshFamily(ctx, user, id, now, ev)
	if err != nil {
		return err
	}
	if !ok {
		return ErrSessionNotFound
	}
	return nil
}

// Active lists user's families that can still be refreshed.
func (s *Sessions) Active(ctx context.Context, user uuid.UUID) ([]RefreshFamily, error) {
	now := s.now().UTC()
	all, err := s.store.RefreshFamilies(ctx, user, now)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, f := range all {
		if s.policy.IdleTimeout <= 0 || now.Sub(f.LastUsedAt) < s.policy.IdleTimeout {
			out = append(out, f)
		}
	}
	return out, nil
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

// Judge decides what presenting a token in state st does. Stores call it
// inside the rotation's transaction, so both stores follow one rule.
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

// Outcome is what a rotation answers once verdict v on st committed: the
// family and, for a retry, the sealed successor st holds.
func Outcome(st RefreshState, v RefreshVerdict) (RefreshFamily, []byte, error) {
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

// Event is the audit event of verdict v on family f.
func (r RefreshRotation) Event(f RefreshFamily, v RefreshVerdict) audit.Event {
	action := map[RefreshVerdict]string{
		RotateToken: audit.RefreshTokenRotated, RetryToken: audit.RefreshTokenRetried, RevokeFamily: audit.RefreshTokenReused,
	}[v]
	ev := audit.Event{At: r.At, Actor: "user:" + f.UserID.String(), Action: action, Target: "session:" + f.ID.String(), IP: r.IP}
	if v == RevokeFamily {
		ev.Details = map[string]any{"revoked": "session and the user's access tokens issued until now"}
	}
	return ev
}
