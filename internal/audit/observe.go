package audit

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

// AppendObserver is told of every event a store appends to the chain, so
// that operators can count and time appends (internal/metrics does). Its
// method must be cheap and must not block: it runs inside the append's
// transaction.
type AppendObserver interface {
	// AuditAppended follows one append, whose statements took took (a
	// store that locks the chain in them counts the wait too). The transaction around it
	// commits after.
	AuditAppended(took time.Duration)
}

// Appends is where a store's appends meet its observer. The zero value
// observes nothing; a store holds one, and its transactions time every
// append through it.
type Appends struct {
	o atomic.Pointer[AppendObserver]
}

// Observe has o told of every append from now on.
func (a *Appends) Observe(o AppendObserver) { a.o.Store(&o) }

// Timed runs do, one event's append, and tells the observer how long it
// took when it succeeded.
func (a *Appends) Timed(do func() error) error {
	o := a.o.Load()
	if o == nil {
		return do()
	}
	start := time.Now()
	err := do()
	if err == nil {
		(*o).AuditAppended(time.Since(start))
	}
	return err
}

// KeepVerifying verifies the whole chain read reads now and then every
// interval until ctx ends, as `iam audit verify` does, and tells report
// whether it held; a read that failed (the database away) reports
// nothing and is logged. The returned channel closes once it has
// stopped.
func KeepVerifying(ctx context.Context, read ChainPage, interval time.Duration, log *slog.Logger, report func(ok bool)) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			n, err := Verify(ctx, read)
			var broken *BrokenLinkError
			switch {
			case err == nil:
				report(true)
				log.Debug("audit chain verified", "events", n)
			case errors.As(err, &broken):
				report(false)
				log.Error("audit chain verification failed", "err", err)
			case ctx.Err() == nil:
				log.Warn("audit chain not verified: cannot read it", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return done
}
