package serviceaccount

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
)

// AccountTx is the write transaction a change to service accounts is made
// in, as each store writes it in its own SQL. Its methods do what they are
// asked and no more: they decide nothing and audit nothing, so that what a
// change does is decided once, here.
type AccountTx interface {
	// InsertAccount inserts a, or returns ErrNameTaken.
	InsertAccount(ctx context.Context, a Account) error
	// AddRole links the account id to a role. A missing role is
	// authz.ErrRoleNotFound naming it.
	AddRole(ctx context.Context, id uuid.UUID, role string) error
	// LockAccount returns the account id, or ErrNotFound, and keeps other
	// transactions from changing it until this one ends.
	LockAccount(ctx context.Context, id uuid.UUID) (Account, error)
	SetState(ctx context.Context, id uuid.UUID, state State, at time.Time) error
	// SetSecretHash replaces the account's secret hash, or returns
	// ErrNotFound.
	SetSecretHash(ctx context.Context, id uuid.UUID, hash string, at time.Time) error
	// RevokeSubject voids the account's tokens issued at or before at.
	RevokeSubject(ctx context.Context, id uuid.UUID, at time.Time) error

	// ServerSecret returns the value of the server secret name, or false
	// when there is none.
	ServerSecret(ctx context.Context, name string) (string, bool, error)
	// InsertServerSecret stores value as the server secret name, created
	// at at, unless there is one, reporting whether it stored it. It waits
	// for a concurrent insert of name to end, and then reports false.
	InsertServerSecret(ctx context.Context, name, value string, at time.Time) (bool, error)

	Audit(ctx context.Context, ev audit.Event) error
}

// CreateServiceAccount inserts a and links it to roles, which must exist,
// recording ev, in one of store's account transactions.
func CreateServiceAccount(ctx context.Context, store Store, a Account, roles []string, ev audit.Event) error {
	return store.ServiceAccountTx(ctx, func(tx AccountTx) error {
		if err := tx.InsertAccount(ctx, a); err != nil {
			return err
		}
		for _, r := range roles {
			if err := tx.AddRole(ctx, a.ID, r); err != nil {
				return err
			}
		}
		return tx.Audit(ctx, ev)
	})
}

// SetServiceAccountSecret replaces the account's secret hash, recording
// ev, in one of store's account transactions.
func SetServiceAccountSecret(ctx context.Context, store Store, id uuid.UUID, hash string, at time.Time, ev audit.Event) error {
	return store.ServiceAccountTx(ctx, func(tx AccountTx) error {
		if err := tx.SetSecretHash(ctx, id, hash, at); err != nil {
			return err
		}
		return tx.Audit(ctx, ev)
	})
}

// DisableServiceAccount disables the account id at at and voids its
// tokens issued until then, recording ev, in one of store's account
// transactions. It reports whether the state changed: disabling a
// disabled account changes nothing and records nothing.
func DisableServiceAccount(ctx context.Context, store Store, id uuid.UUID, at time.Time, ev audit.Event) (bool, error) {
	changed := false
	err := store.ServiceAccountTx(ctx, func(tx AccountTx) error {
		a, err := tx.LockAccount(ctx, id)
		if err != nil || a.State == StateDisabled {
			return err
		}
		if err := tx.SetState(ctx, id, StateDisabled, at); err != nil {
			return err
		}
		changed = true
		if err := tx.RevokeSubject(ctx, id, at); err != nil {
			return err
		}
		return tx.Audit(ctx, ev)
	})
	return changed, err
}
