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
	store    RefreshStore
	policy   SessionPolicy
	now      func() time.Time
	observer RotationObserver
}

// RotationObserver is told of rotations and of reuse, so that operators
// can count them (internal/metrics does). Its methods must be cheap and
// must not block.
type RotationObserver interface {
	// RefreshRotated follows a refresh token spent for a new successor;
	// a retry within the grace, which gets the same successor, is not one.
	RefreshRotated()
	// RefreshReuseDetected follows a spent token presented again, which
	// revoked its family.
	RefreshReuseDetected()
}

type noRotationObserver struct{}

func (noRotationObserver) RefreshRotated()       {}
func (noRotationObserver) RefreshReuseDetected() {}

// NewSessions returns Sessions kept in store under policy.
func NewSessions(store RefreshStore, policy SessionPolicy, now func() time.Time) *Sessions {
	return &Sessions{store: store, policy: policy, now: now, observer: noRotationObserver{}}
}

// Observe has o told of every rotation from now on. Call it before the
// Sessions are used.
func (s *Sessions) Observe(o RotationObserver) { s.observer = o }

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
	if err := CreateRefreshFamily(ctx, s.store, f, TokenHash(raw), ev); err != nil {
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
	f, retried, err := RotateRefreshToken(ctx, s.store, RefreshRotation{
		Presented: TokenHash(raw), Next: TokenHash(next), NextSealed: sealed, At: s.now().UTC(),
		IdleTimeout: s.policy.IdleTimeout, ReuseGrace: s.policy.ReuseGrace, IP: ip,
	})
	if errors.Is(err, ErrRefreshReused) {
		s.observer.RefreshReuseDetected()
	}
	if err != nil {
		return "", RefreshFamily{}, err
	}
	if retried == nil {
		s.observer.RefreshRotated()
	} else {
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
	ok, err := RevokeRefreshFamily(ctx, s.store, user, id, now, ev)
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
