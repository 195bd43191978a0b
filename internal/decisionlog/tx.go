package decisionlog

import (
	"context"
	"time"

	"github.com/gaia-platform/iam/internal/audit"
)

// Tx is the write transaction an upload or a pruning runs in, as each
// store writes it in its own SQL. Its methods are statements: what is
// audited, and when, is decided here.
type Tx interface {
	// InsertEntries stores entries, skipping those whose (client id,
	// decision id) is already stored, and reports how many it stored.
	InsertEntries(ctx context.Context, entries []Entry) (int, error)
	// DeleteReceivedBefore deletes the entries received before cutoff and
	// reports how many.
	DeleteReceivedBefore(ctx context.Context, cutoff time.Time) (int64, error)
	Audit(ctx context.Context, ev audit.Event) error
}

// Insert is Store.InsertDecisionLogs, in one of store's transactions:
// every store implements that method with it.
func Insert(ctx context.Context, store Store, entries []Entry, ev audit.Event) (int, error) {
	stored := 0
	err := store.DecisionLogTx(ctx, func(tx Tx) error {
		var err error
		if stored, err = tx.InsertEntries(ctx, entries); err != nil || stored == 0 {
			return err
		}
		return tx.Audit(ctx, storedEvent(ev, stored, len(entries)))
	})
	if err != nil {
		return 0, err
	}
	return stored, nil
}

// PruneBefore is Store.PruneDecisionLogs, in one of store's transactions:
// every store implements that method with it.
func PruneBefore(ctx context.Context, store Store, cutoff time.Time, ev audit.Event) (int64, error) {
	var n int64
	err := store.DecisionLogTx(ctx, func(tx Tx) error {
		var err error
		if n, err = tx.DeleteReceivedBefore(ctx, cutoff); err != nil || n == 0 {
			return err
		}
		return tx.Audit(ctx, prunedEvent(ev, n))
	})
	return n, err
}
