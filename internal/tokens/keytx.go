package tokens

import (
	"context"
	"time"

	"github.com/gaia-platform/iam/internal/audit"
)

// KeyStore keeps generated signing keys so that every replica on the same
// database signs with the same key and sees the same rotations. Every
// change to the keys is a flow of this package run in one of the store's
// key transactions, with its audit events in the same transaction.
type KeyStore interface {
	KeyTxStore
	// SigningKeys returns every stored key, oldest activation first.
	SigningKeys(ctx context.Context) ([]StoredKey, error)
}

// KeyTxStore opens the transactions signing keys change in.
type KeyTxStore interface {
	// KeyTx runs fn in one write transaction, committing if it returns
	// nil. Key transactions run one at a time, whichever replica or
	// command opens them: each takes the store's lock on the keys first.
	KeyTx(ctx context.Context, fn func(KeyTx) error) error
}

// KeyTx is the write transaction signing keys change in, as each store
// writes it in its own SQL. Its methods do what they are asked and no
// more: they decide nothing and audit nothing but what Audit is given, so
// that what a rotation or a prune does is decided once, here.
type KeyTx interface {
	// NewestSigningKey returns the key created last, or false when there
	// is none.
	NewestSigningKey(ctx context.Context) (StoredKey, bool, error)
	InsertSigningKey(ctx context.Context, k StoredKey) error
	// RetireSigningKeys gives every key without a retire-after
	// retireAfter, returning their kids.
	RetireSigningKeys(ctx context.Context, retireAfter time.Time) ([]string, error)
	// DeleteSigningKeys deletes every key, returning their kids.
	DeleteSigningKeys(ctx context.Context) ([]string, error)
	// DeleteRetiredSigningKeys deletes the keys whose retire-after is at or
	// before at, returning them.
	DeleteRetiredSigningKeys(ctx context.Context, at time.Time) ([]StoredKey, error)

	Audit(ctx context.Context, ev audit.Event) error
}

// EnsureSigningKey returns the newest key in store; when there is none it
// stores the one generate returns. Concurrent callers get the same key:
// the key transaction makes them look one at a time, and only the first
// finds none.
func EnsureSigningKey(ctx context.Context, store KeyTxStore, generate func() (StoredKey, error)) (StoredKey, error) {
	var k StoredKey
	err := store.KeyTx(ctx, func(tx KeyTx) error {
		var found bool
		var err error
		if k, found, err = tx.NewestSigningKey(ctx); err != nil || found {
			return err
		}
		if k, err = generate(); err != nil {
			return err
		}
		if err := tx.InsertSigningKey(ctx, k); err != nil {
			return err
		}
		return tx.Audit(ctx, createdEvent(k))
	})
	return k, err
}

// RotateSigningKey stores r.Key. The keys it replaces (those without a
// retire-after) get r.RetireAfter, or with r.RevokeOthers every other key
// is deleted. It writes r's audit events in the same transaction.
func RotateSigningKey(ctx context.Context, store KeyTxStore, r Rotation) error {
	return store.KeyTx(ctx, func(tx KeyTx) error {
		var replaced []string
		var err error
		if r.RevokeOthers {
			replaced, err = tx.DeleteSigningKeys(ctx)
		} else {
			replaced, err = tx.RetireSigningKeys(ctx, r.RetireAfter)
		}
		if err != nil {
			return err
		}
		if err := tx.InsertSigningKey(ctx, r.Key); err != nil {
			return err
		}
		return auditAll(ctx, tx, r.events(replaced))
	})
}

// PruneSigningKeys deletes the keys whose retire-after is at or before
// now, auditing each in the same transaction, and returns them.
func PruneSigningKeys(ctx context.Context, store KeyTxStore, now time.Time, actor string) ([]StoredKey, error) {
	var pruned []StoredKey
	err := store.KeyTx(ctx, func(tx KeyTx) error {
		var err error
		if pruned, err = tx.DeleteRetiredSigningKeys(ctx, now); err != nil {
			return err
		}
		evs := make([]audit.Event, len(pruned))
		for i, k := range pruned {
			evs[i] = pruneEvent(k, now, actor)
		}
		return auditAll(ctx, tx, evs)
	})
	return pruned, err
}

func auditAll(ctx context.Context, tx KeyTx, evs []audit.Event) error {
	for _, ev := range evs {
		if err := tx.Audit(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}
