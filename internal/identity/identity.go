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
	// ErrNotActive is a user whose tokens may no longer act: the account
	// is gone or not active (Service.Active).
	ErrNotActive = errors.New("the account no longer exists or is not active")
)

// Store keeps users. Every change records its audit event in the same
// transaction.
type Store interface {
	// UserByUsernameKey finds a user by the key NormalizeUsername returns.
	UserByUsernameKey(ctx context.Context, key string) (User, error)
	UserByID(ctx context.Context, id uuid.UUID) (User, error)
	Users(ctx context.Context) ([]User, error)
	// UserPage lists up to q.Limit users ordered by username key, after
	// q.After and containing q.Search in their key.
	UserPage(ctx context.Context, q UserQuery) ([]User, error)
	// UserTx runs fn in one write transaction, committing if it returns
	// nil, else rolling back and returning fn's error.
	UserTx(ctx context.Context, fn func(UserTx) error) error
	// RecordLogin stores the time of a successful login with ev, or
	// returns ErrUserNotFound. It is a store's own because it is the
	// busiest write: a store may commit it more cheaply than a change.
	RecordLogin(ctx context.Context, id uuid.UUID, at time.Time, ev audit.Event) error
	AppendAudit(ctx context.Context, ev audit.Event) error
}
