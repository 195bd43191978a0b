// Package identity is who someone is: users, usernames and password hashes.
// It knows nothing about roles or permissions; authority lives in authz.
package identity

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
)

// State is a user account's state. Only active users can log in.
type State string

// Account states.
const (
	StateActive   State = "active"
	StateDisabled State = "disabled"
	StateLocked   State = "locked"
)

// User is an identity. It holds no roles, permissions or policy.
type User struct {
	ID           uuid.UUID
	Username     string // NFKC-normalised, as the user chose it
	PasswordHash string // PHC string; empty means the user cannot log in
	State        State
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastLoginAt  *time.Time
}

// UserQuery selects a page of users. Keys are NormalizeUsername's: the
// order and the search are case-insensitive.
type UserQuery struct {
	Search string // only users whose key contains this key, if set
	After  string // only users whose key sorts after this key, if set
	Limit  int
}

// Errors returned by the identity service and its store.
var (
	ErrInvalidCredentials = errors.New("invalid username or password")
	ErrUserNotFound       = errors.New("user not found")
	ErrUsernameTaken      = errors.New("username is already taken")
	ErrInvalidUsername    = errors.New("invalid username")
	ErrInvalidPassword    = errors.New("invalid password")
)

// Store keeps users. Every change records its audit event in the same
// transaction.
type Store interface {
	// CreateUser inserts u and links it to roles (which must exist).
	CreateUser(ctx context.Context, u User, roles []string, ev audit.Event) error
	// UserByUsernameKey finds a user by the key NormalizeUsername returns.
	UserByUsernameKey(ctx context.Context, key string) (User, error)
	UserByID(ctx context.Context, id uuid.UUID) (User, error)
	Users(ctx context.Context) ([]User, error)
	// UserPage lists up to q.Limit users ordered by username key, after
	// q.After and containing q.Search in their key.
	UserPage(ctx context.Context, q UserQuery) ([]User, error)
	// SetUserState reports whether the state changed; no change, no event.
	SetUserState(ctx context.Context, id uuid.UUID, state State, at time.Time, ev audit.Event) (bool, error)
	SetPasswordHash(ctx context.Context, id uuid.UUID, hash string, at time.Time, ev audit.Event) error
	// ChangePassword replaces the password hash as SetPasswordHash does
	// and, in the same transaction, revokes every session (refresh family)
	// of the user still open at at except keep (uuid.Nil: none kept). It
	// returns how many it revoked, which it sets as "sessions_revoked" in
	// ev.Details (which must not be nil).
	ChangePassword(ctx context.Context, id uuid.UUID, hash string, at time.Time, keep uuid.UUID, ev audit.Event) (int, error)
	RecordLogin(ctx context.Context, id uuid.UUID, at time.Time, ev audit.Event) error
	// RecordLoginUpgradingHash records a successful login (as RecordLogin,
	// with login) and, in the same transaction, replaces the password hash
	// from with to if from is still the stored hash, recording upgraded. A
	// hash changed meanwhile (a concurrent upgrade, a new password) wins:
	// then only the login is recorded. It reports whether it replaced.
	RecordLoginUpgradingHash(ctx context.Context, id uuid.UUID, at time.Time, from, to string, login, upgraded audit.Event) (bool, error)
	AppendAudit(ctx context.Context, ev audit.Event) error
}
