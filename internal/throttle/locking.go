package throttle

import (
	"context"
	"time"

	"github.com/gaia-platform/iam/internal/audit"
)

// Tx is the write transaction failures and locks change in, as each store
// writes it in its own SQL. Its methods do what they are asked and no
// more: they decide nothing and audit nothing, so that when a failure
// locks is decided once, here.
type Tx interface {
	// InsertFailure stores f.
	InsertFailure(ctx context.Context, f Failure) error
	// PruneFailures deletes every failure at or before until, of any
	// subject: none of them counts towards a lock any more.
	PruneFailures(ctx context.Context, until time.Time) error
	// CountFailures counts the failures of the subject of kind k after
	// since.
	CountFailures(ctx context.Context, k Kind, subject string, since time.Time) (int, error)
	// DeleteFailures deletes every failure of the subject of kind k,
	// reporting whether there was any.
	DeleteFailures(ctx context.Context, k Kind, subject string) (bool, error)

	// Block returns the subject's lock, active or over; nil when it has
	// none.
	Block(ctx context.Context, k Kind, subject string) (*Block, error)
	// PutBlock stores b as its subject's lock in place of one over by
	// b.Since. When the stored lock lasts beyond b.Since, a concurrent
	// failure has locked the subject already: PutBlock stores nothing and
	// reports false. It is the one guard against locking twice that does
	// not depend on how the store serialises transactions.
	PutBlock(ctx context.Context, b Block) (bool, error)
	// DeleteBlock deletes the subject's lock, reporting whether it had one.
	DeleteBlock(ctx context.Context, k Kind, subject string) (bool, error)
	// EndStreak sets the streak of the account name userKey's lock to 0,
	// keeping the lock.
	EndStreak(ctx context.Context, userKey string) error

	Audit(ctx context.Context, ev audit.Event) error
}

// RecordLoginFailure stores f and, in one of store's throttle
// transactions, for each kind counts the subject's failures since
// Policy.CountFrom and applies Policy.Lock, storing each new lock with its
// audit event. It returns the new locks.
func RecordLoginFailure(ctx context.Context, store Store, f Failure, p Policy) ([]Block, error) {
	var locks []Block
	err := store.ThrottleTx(ctx, func(tx Tx) error {
		locks = nil
		if err := tx.PruneFailures(ctx, f.At.Add(-p.Window)); err != nil {
			return err
		}
		if err := tx.InsertFailure(ctx, f); err != nil {
			return err
		}
		for _, k := range []Kind{KindUser, KindIP} {
			b, locked, err := lockIfDue(ctx, tx, f, k, p)
			if err != nil {
				return err
			}
			if locked {
				locks = append(locks, b)
			}
		}
		return nil
	})
	return locks, err
}

// lockIfDue counts the failures of f's subject of kind k and stores the
// lock Policy.Lock decides on, with its event. A concurrent failure may
// have decided the same lock: PutBlock keeps it from being stored and
// audited twice.
func lockIfDue(ctx context.Context, tx Tx, f Failure, k Kind, p Policy) (Block, bool, error) {
	subject := f.Subject(k)
	prev, err := tx.Block(ctx, k, subject)
	if err != nil {
		return Block{}, false, err
	}
	n, err := tx.CountFailures(ctx, k, subject, p.CountFrom(prev, f.At))
	if err != nil {
		return Block{}, false, err
	}
	b, lock := p.Lock(k, subject, n, prev, f.At)
	if !lock {
		return b, false, nil
	}
	if stored, err := tx.PutBlock(ctx, b); err != nil || !stored {
		return b, false, err
	}
	return b, true, tx.Audit(ctx, b.Event(f.IP))
}

// ClearLoginFailures forgets the failures of the account name userKey and
// ends its streak, in one of store's throttle transactions, after a
// successful login.
func ClearLoginFailures(ctx context.Context, store Store, userKey string) error {
	return store.ThrottleTx(ctx, func(tx Tx) error {
		if _, err := tx.DeleteFailures(ctx, KindUser, userKey); err != nil {
			return err
		}
		return tx.EndStreak(ctx, userKey)
	})
}

// Unblock ends the lock of a subject and forgets its failures, in one of
// store's throttle transactions, recording ev when there was either to
// forget. It reports whether there was.
func Unblock(ctx context.Context, store Store, k Kind, subject string, ev audit.Event) (bool, error) {
	changed := false
	err := store.ThrottleTx(ctx, func(tx Tx) error {
		locked, err := tx.DeleteBlock(ctx, k, subject)
		if err != nil {
			return err
		}
		failed, err := tx.DeleteFailures(ctx, k, subject)
		if err != nil {
			return err
		}
		if changed = locked || failed; !changed {
			return nil
		}
		return tx.Audit(ctx, ev)
	})
	return changed, err
}
