package decisionlog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
)

// Config is how decision logs are received and kept.
type Config struct {
	Limits
	// Retention is how long an entry is kept after it was received.
	Retention time.Duration
}

// Service receives uploads, answers queries and deletes expired entries.
type Service struct {
	store    Store
	cfg      Config
	now      func() time.Time
	observer Observer
}

// NewService returns a Service keeping entries in store.
func NewService(store Store, cfg Config, now func() time.Time) *Service {
	return &Service{store: store, cfg: cfg, now: now, observer: noObserver{}}
}

// Observer is told of the decisions received, so that operators can
// count them (internal/metrics does). Its method must be cheap and must
// not block.
type Observer interface {
	// DecisionsReceived follows an upload of n decisions, stored.
	DecisionsReceived(n int)
}

type noObserver struct{}

func (noObserver) DecisionsReceived(int) {}

// Observe has o told of every upload from now on. Call it before the
// Service is used.
func (s *Service) Observe(o Observer) { s.observer = o }

// Receipt says what became of one upload.
type Receipt struct {
	Received int // events in the upload
	Stored   int // new ones; the rest were stored by an earlier upload
}

// Upload stores the events of one upload by client, an OPA's service
// account, redacting every token in them. encoding is the request's
// Content-Encoding. A retried upload stores nothing twice.
func (s *Service) Upload(ctx context.Context, client uuid.UUID, body io.Reader, encoding, ip string) (Receipt, error) {
	events, err := decode(body, encoding, s.cfg.Limits)
	if err != nil {
		return Receipt{}, err
	}
	now := s.now().UTC()
	entries := make([]Entry, 0, len(events))
	for _, e := range events {
		en, err := entry(e, client, now)
		if err != nil {
			return Receipt{}, err
		}
		entries = append(entries, en)
	}
	if len(entries) == 0 {
		return Receipt{}, nil
	}
	ev := audit.Event{At: now, Actor: "service_account:" + client.String(), Action: audit.DecisionLogsReceived,
		Target: "decision_logs", IP: ip, Details: map[string]any{"received": len(entries)}}
	stored, err := Insert(ctx, s.store, entries, ev)
	if err != nil {
		return Receipt{}, err
	}
	s.observer.DecisionsReceived(len(entries))
	return Receipt{Received: len(entries), Stored: stored}, nil
}

// Page is one page of a query, newest first. Next is the cursor of the
// page after it, empty on the last page.
type Page struct {
	Entries []Entry
	Next    string
}

// MaxPageSize bounds a page; a query without a limit gets DefaultPageSize.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// List returns the page of q's entries that cursor (empty: the first)
// names. The admin API serves it.
func (s *Service) List(ctx context.Context, q Query, cursor string) (Page, error) {
	if cursor != "" {
		id, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || id <= 0 {
			return Page{}, fmt.Errorf("%w %q", ErrInvalidCursor, cursor)
		}
		q.Before = id
	}
	if q.Limit <= 0 {
		q.Limit = DefaultPageSize
	}
	q.Limit = min(q.Limit, MaxPageSize)
	want := q.Limit
	q.Limit++ // one more says whether a next page exists
	entries, err := s.store.DecisionLogs(ctx, q)
	if err != nil {
		return Page{}, err
	}
	p := Page{Entries: entries}
	if len(entries) > want {
		p.Entries = entries[:want]
		p.Next = strconv.FormatInt(p.Entries[want-1].ID, 10)
	}
	return p, nil
}

// Prune deletes the entries older than the retention and reports how many.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	now := s.now().UTC()
	cutoff := now.Add(-s.cfg.Retention)
	ev := audit.Event{At: now, Actor: "system", Action: audit.DecisionLogsPruned, Target: "decision_logs",
		Details: map[string]any{"received_before": cutoff.Format(time.RFC3339Nano), "retention": s.cfg.Retention.String()}}
	return PruneBefore(ctx, s.store, cutoff, ev)
}

// PruneInterval is how often KeepPruning prunes: a tenth of the retention,
// between a second and an hour.
func (s *Service) PruneInterval() time.Duration {
	return min(max(s.cfg.Retention/10, time.Second), time.Hour)
}

// KeepPruning prunes now and then every PruneInterval until ctx ends,
// and closes the returned channel when it has stopped.
func (s *Service) KeepPruning(ctx context.Context, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.PruneInterval())
		defer t.Stop()
		for {
			n, err := s.Prune(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Error("deleting expired decision logs failed", "err", err)
			case n > 0:
				log.Info("deleted expired decision logs", "deleted", n)
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
