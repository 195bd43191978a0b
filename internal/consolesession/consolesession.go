// Package consolesession is how a browser stays signed in to the admin
// console: a random session token in a cookie, kept by the server only as
// a hash, with an idle timeout, an absolute lifetime and a CSRF token
// derived from it. It decides who is signed in, never what they may do:
// the policy bundle does that, as it does for the admin API.
package consolesession

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"

	"github.com/google/uuid"
)

// ErrNoSession is a session token that signs nobody in: unknown, ended,
// idle too long or past its lifetime.
var ErrNoSession = errors.New("not signed in to the console, or the session has ended")

// Session is one browser's sign-in.
type Session struct {
	UserID     uuid.UUID
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // the absolute end, however active the session is
	IP         string    // where it was started
}

// Store keeps sessions under the hash of their token (Hash), never the
// token itself. A user's sessions also end when the user leaves the
// active state or their password changes (identity.UserTx's
// EndConsoleSessions).
type Store interface {
	// InsertConsoleSession stores s under hash.
	InsertConsoleSession(ctx context.Context, hash string, s Session) error
	// ConsoleSession returns the session stored under hash, or
	// ErrNoSession.
	ConsoleSession(ctx context.Context, hash string) (Session, error)
	// TouchConsoleSession sets the last_seen of the session under hash.
	TouchConsoleSession(ctx context.Context, hash string, at time.Time) error
	// DeleteConsoleSession deletes the session under hash, if any.
	DeleteConsoleSession(ctx context.Context, hash string) error
	// DeleteStaleConsoleSessions deletes every session that expires
	// before expiredBefore or was last seen before idleBefore.
	DeleteStaleConsoleSessions(ctx context.Context, expiredBefore, idleBefore time.Time) error
}

// Policy is how long a session lives.
type Policy struct {
	IdleTimeout time.Duration // unused this long, a session is over
	Lifetime    time.Duration // a session is over this long after it started
}

// DefaultPolicy is Keycloak's SSO session defaults, and the server's: 30
// minutes idle, 10 hours at most.
var DefaultPolicy = Policy{IdleTimeout: 30 * time.Minute, Lifetime: 10 * time.Hour}

// touchEvery bounds the writes a busy session makes: its last_seen moves
// at most once a minute (or a tenth of a shorter idle timeout), so the
// idle timeout is honoured to that.
func (p Policy) touchEvery() time.Duration { return min(time.Minute, p.IdleTimeout/10) }

// Service starts, resumes and ends console sessions.
type Service struct {
	store  Store
	policy Policy
	now    func() time.Time
}

// NewService returns sessions kept in store under policy.
func NewService(store Store, policy Policy, now func() time.Time) *Service {
	return &Service{store: store, policy: policy, now: now}
}

// Policy is the service's policy.
func (s *Service) Policy() Policy { return s.policy }

// Start signs user in from ip: it returns the new session's token, for
// the cookie, and the session. It also deletes every stale session.
func (s *Service) Start(ctx context.Context, user uuid.UUID, ip string) (string, Session, error) {
	now := s.now().UTC()
	if err := s.store.DeleteStaleConsoleSessions(ctx, now, now.Add(-s.policy.IdleTimeout)); err != nil {
		return "", Session{}, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", Session{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	sess := Session{UserID: user, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.policy.Lifetime), IP: ip}
	if err := s.store.InsertConsoleSession(ctx, Hash(token), sess); err != nil {
		return "", Session{}, err
	}
	return token, sess, nil
}

// Resume is the session token signs in, or ErrNoSession; a session found
// idle or past its lifetime is deleted.
func (s *Service) Resume(ctx context.Context, token string) (Session, error) {
	if token == "" {
		return Session{}, ErrNoSession
	}
	hash := Hash(token)
	sess, err := s.store.ConsoleSession(ctx, hash)
	if err != nil {
		return Session{}, err
	}
	now := s.now().UTC()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= s.policy.IdleTimeout {
		if err := s.store.DeleteConsoleSession(ctx, hash); err != nil {
			return Session{}, err
		}
		return Session{}, ErrNoSession
	}
	if now.Sub(sess.LastSeenAt) >= s.policy.touchEvery() {
		if err := s.store.TouchConsoleSession(ctx, hash, now); err != nil {
			return Session{}, err
		}
		sess.LastSeenAt = now
	}
	return sess, nil
}

// End ends the session token signs in, if any.
func (s *Service) End(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	return s.store.DeleteConsoleSession(ctx, Hash(token))
}

// Hash is how a session token is stored: hex SHA-256 under a label of
// its own. The token has 256 bits of entropy, so a fast hash is enough.
func Hash(token string) string { return derive("gaia-console-session", token) }

// CSRFToken is the token every state-changing form of token's session
// carries. It is derived from the session token (so it needs no storage
// and dies with the session) under a label the stored hash does not use:
// the page's CSRF token says nothing of the database key and neither
// gives the session token back.
func CSRFToken(token string) string { return derive("gaia-console-csrf", token) }

// ValidCSRF reports whether presented is the CSRF token of token's
// session, in constant time.
func ValidCSRF(token, presented string) bool {
	return token != "" && hmac.Equal([]byte(CSRFToken(token)), []byte(presented))
}

func derive(label, token string) string {
	m := hmac.New(sha256.New, []byte(label))
	m.Write([]byte(token))
	return hex.EncodeToString(m.Sum(nil))
}
