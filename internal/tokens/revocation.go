package tokens

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
)

// RevocationStore keeps revoked token ids until the tokens expire; the
// policy bundle carries them to every service.
type RevocationStore interface {
	// RevokeToken voids the token with id jti, which expires at expiresAt,
	// recording ev in the same transaction. It reports false, and records
	// nothing, when the token was revoked already.
	RevokeToken(ctx context.Context, jti string, expiresAt time.Time, ev audit.Event) (bool, error)
	// RevokeSubject voids every token of subject (a user's or service
	// account's id) issued at or before at, recording ev in the same
	// transaction.
	RevokeSubject(ctx context.Context, subject uuid.UUID, at time.Time, ev audit.Event) error
}

// MaxJTILen bounds a jti an administrator names: this issuer's are UUIDs,
// and a revocation list is carried in every bundle.
const MaxJTILen = 200

// ErrInvalidRevocation is a token revocation that could never matter: a
// jti longer than MaxJTILen, or an expiry that has passed.
var ErrInvalidRevocation = errors.New("jti must be at most 200 characters and expires_at in the future")

// Revocation is who revokes, from where and why, as the audit trail
// records it.
type Revocation struct {
	Actor  string // "user:<uuid>", "service_account:<uuid>", ...
	IP     string
	Reason string
}

// Revoker voids access tokens before they expire, each revocation with
// its audit event.
type Revoker struct {
	store RevocationStore
	ttl   time.Duration
	now   func() time.Time
}

// NewRevoker returns a Revoker keeping revocations in store; ttl is the
// access-token lifetime, how long a jti revoked without an expiry is kept.
func NewRevoker(store RevocationStore, ttl time.Duration, now func() time.Time) *Revoker {
	return &Revoker{store: store, ttl: ttl, now: now}
}

// RevokeToken voids the token jti until expiresAt (nil: one access-token
// lifetime from now) and returns that expiry; ErrInvalidRevocation when
// the jti is too long or the expiry has passed. A token revoked already
// stays revoked, and nothing more is recorded.
func (r *Revoker) RevokeToken(ctx context.Context, by Revocation, jti string, expiresAt *time.Time) (time.Time, error) {
	now := r.now().UTC()
	exp := now.Add(r.ttl)
	if expiresAt != nil {
		exp = *expiresAt
	}
	if !exp.After(now) || len(jti) > MaxJTILen {
		return time.Time{}, ErrInvalidRevocation
	}
	if _, err := r.store.RevokeToken(ctx, jti, exp, by.event(now, audit.TokenRevoked, "jti:"+jti)); err != nil {
		return time.Time{}, err
	}
	return exp, nil
}

// RevokeAccess voids the access token c until it expires, on behalf of
// its own subject (a logout, or RFC 7009 revocation by its holder).
func (r *Revoker) RevokeAccess(ctx context.Context, c Claims, ip, reason string) error {
	by := Revocation{Actor: c.Type + ":" + c.Subject, IP: ip, Reason: reason}
	_, err := r.store.RevokeToken(ctx, c.ID, c.ExpiresAt, by.event(r.now().UTC(), audit.TokenRevoked, "jti:"+c.ID))
	return err
}

// RevokeSubject voids every token of subject issued until now, and
// returns now; target names the subject in the trail (identity.Target,
// serviceaccount.Target), which this package cannot tell apart.
func (r *Revoker) RevokeSubject(ctx context.Context, by Revocation, subject uuid.UUID, target string) (time.Time, error) {
	now := r.now().UTC()
	if err := r.store.RevokeSubject(ctx, subject, now, by.event(now, audit.SubjectRevoked, target)); err != nil {
		return time.Time{}, err
	}
	return now, nil
}

// event is the audit event of revoking target at at.
func (by Revocation) event(at time.Time, action, target string) audit.Event {
	return audit.Event{At: at, Actor: by.Actor, Action: action, Target: target, IP: by.IP,
		Details: map[string]any{"reason": by.Reason}}
}
