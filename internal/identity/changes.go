package identity

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
)

// UserTx is the write transaction a change to users is made in, as each
// store writes it in its own SQL. Its methods do what they are asked and
// no more: they decide nothing and audit nothing, so that what a change
// does (whether it changed anything, what it revokes, what it records) is
// decided once, here.
type UserTx interface {
	// InsertUser inserts u, keyed by its normalised username, or returns
	// ErrUsernameTaken.
	InsertUser(ctx context.Context, u User) error
	// AddUserRole links the user id to a role. A missing role is
	// authz.ErrRoleNotFound naming it.
	AddUserRole(ctx context.Context, id uuid.UUID, role string) error
	// LockUser returns the user id, or ErrUserNotFound, and keeps other
	// transactions from changing it until this one ends.
	LockUser(ctx context.Context, id uuid.UUID) (User, error)
	SetUserState(ctx context.Context, id uuid.UUID, state State, at time.Time) error
	// SetPasswordHash replaces the user's password hash, or returns
	// ErrUserNotFound.
	SetPasswordHash(ctx context.Context, id uuid.UUID, hash string, at time.Time) error
	// ReplacePasswordHash replaces the user's password hash from with to,
	// reporting false, and changing nothing, when from is not the stored
	// hash.
	ReplacePasswordHash(ctx context.Context, id uuid.UUID, from, to string, at time.Time) (bool, error)
	// SetLastLogin stores the time of the user's login, or returns
	// ErrUserNotFound.
	SetLastLogin(ctx context.Context, id uuid.UUID, at time.Time) error
	// RevokeSubject voids the user's tokens issued at or before at.
	RevokeSubject(ctx context.Context, id uuid.UUID, at time.Time) error
	// RevokeSessions revokes the user's sessions (refresh families) still
	// open at at, all but keep (uuid.Nil: none kept), and returns how many.
	RevokeSessions(ctx context.Context, id uuid.UUID, at time.Time, keep uuid.UUID) (int, error)
	// EndConsoleSessions deletes the user's console sessions.
	EndConsoleSessions(ctx context.Context, id uuid.UUID) error

	Audit(ctx context.Context, ev audit.Event) error
}

// CreateUser inserts u and links it to roles, which must exist, recording
// ev, in one of store's user transactions.
func CreateUser(ctx context.Context, store Store, u User, roles []string, ev audit.Event) error {
	return store.UserTx(ctx, func(tx UserTx) error {
		if err := tx.InsertUser(ctx, u); err != nil {
			return err
		}
		for _, r := range roles {
			if err := tx.AddUserRole(ctx, u.ID, r); err != nil {
				return err
			}
		}
		return tx.Audit(ctx, ev)
	})
}

// SetUserState moves the user id to state at at, recording ev, in one of
// store's user transactions, and reports whether the state changed: no
// change, no event. A user leaving the active state loses every token
// issued until at and every console session.
func SetUserState(ctx context.Context, store Store, id uuid.UUID, state State, at time.Time, ev audit.Event) (bool, error) {
	changed := false
	err := store.UserTx(ctx, func(tx UserTx) error {
		u, err := tx.LockUser(ctx, id)
		if err != nil || u.State == state {
			return err
		}
		if err := tx.SetUserState(ctx, id, state, at); err != nil {
			return err
		}
		changed = true
		if state != StateActive {
			if err := tx.RevokeSubject(ctx, id, at); err != nil {
				return err
			}
			if err := tx.EndConsoleSessions(ctx, id); err != nil {
				return err
			}
		}
		return tx.Audit(ctx, ev)
	})
	return changed, err
}

// SetPasswordHash replaces the user's password hash, recording ev, in one
// of store's user transactions. A new password signs the user out of the
// console everywhere: it ends every console session of the user.
func SetPasswordHash(ctx context.Context, store Store, id uuid.UUID, hash string, at time.Time, ev audit.Event) error {
	return store.UserTx(ctx, func(tx UserTx) error {
		if err := tx.SetPasswordHash(ctx, id, hash, at); err != nil {
			return err
		}
		if err := tx.EndConsoleSessions(ctx, id); err != nil {
			return err
		}
		return tx.Audit(ctx, ev)
	})
}

// changePassword replaces the password hash, ending every console session,
// as SetPasswordHash does and, in the same transaction, revokes every
// session (refresh family) of the user still open at at except keep. It returns how many it revoked, which it records as
// "sessions_revoked" in ev.Details (which must not be nil).
func changePassword(ctx context.Context, store Store, id uuid.UUID, hash string, at time.Time, keep uuid.UUID, ev audit.Event) (int, error) {
	revoked := 0
	err := store.UserTx(ctx, func(tx UserTx) error {
		if err := tx.SetPasswordHash(ctx, id, hash, at); err != nil {
			return err
		}
		if err := tx.EndConsoleSessions(ctx, id); err != nil {
			return err
		}
		var err error
		if revoked, err = tx.RevokeSessions(ctx, id, at, keep); err != nil {
			return err
		}
		ev.Details["sessions_revoked"] = revoked
		return tx.Audit(ctx, ev)
	})
	return revoked, err
}

// RecordLoginUpgradingHash records a successful login of the user id at
// at (as Store.RecordLogin, with login) and, in the same user transaction
// of store, replaces the password hash from with to if from is still the
// stored hash, recording upgraded. A hash changed meanwhile (a concurrent
// upgrade, a new password) wins: then only the login is recorded. It
// reports whether it replaced.
func RecordLoginUpgradingHash(ctx context.Context, store Store, id uuid.UUID, at time.Time, from, to string, login, upgraded audit.Event) (bool, error) {
	replaced := false
	err := store.UserTx(ctx, func(tx UserTx) error {
		if err := tx.SetLastLogin(ctx, id, at); err != nil {
			return err
		}
		if err := tx.Audit(ctx, login); err != nil {
			return err
		}
		var err error
		if replaced, err = tx.ReplacePasswordHash(ctx, id, from, to, at); err != nil || !replaced {
			return err
		}
		return tx.Audit(ctx, upgraded)
	})
	return replaced, err
}
