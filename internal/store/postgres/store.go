// Package postgres implements Gaia IAM's stores on PostgreSQL with pgx.
// SQL is written out here and nowhere else; the store enforces no policy
// beyond the schema's integrity.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gaia-platform/iam/internal/audit"
)

// Store is the PostgreSQL implementation of the identity, authz, tokens and
// audit stores.
type Store struct {
	pool    *pgxpool.Pool
	appends audit.Appends // every append to the audit chain meets the observer here
}

// Open connects to the database at url and checks that it answers.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("database URL is not a valid PostgreSQL URL")
	}
	cfg.ConnConfig.Tracer = queryTracer{}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// A database that does not answer (a host gone, packets dropped)
		// fails a request in seconds, as 503, rather than holding it
		// until the HTTP write timeout; connect_timeout in the URL wins.
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s is unreachable: %w", describe(cfg), unwrapConnect(err))
	}
	return &Store{pool: pool}, nil
}

// Close releases every connection.
func (s *Store) Close() { s.pool.Close() }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// PoolStat is the connection pool's statistics now.
func (s *Store) PoolStat() *pgxpool.Stat { return s.pool.Stat() }

// inTx runs fn in a transaction, committing if it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// AppendAudit records an event on its own: an attempt (a login or client
// authentication, failed or not) that changes no other state. Its commit
// does not wait for the WAL flush, so the audit chain lock is held for the
// insert, not for an fsync; PostgreSQL flushes it within 3×wal_writer_delay
// (600 ms by default). A database crash in that window can lose the newest
// such events, whole and in chain order, never a link in the middle.
// Transactions that change state with their event stay synchronous.
func (s *Store) AppendAudit(ctx context.Context, ev audit.Event) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`SET LOCAL synchronous_commit = off`)
		return appendAudit(ctx, &s.appends, tx, b, ev)
	})
}

// AuditEvents returns the newest events first, at most limit of them,
// optionally only those of one action.
func (s *Store) AuditEvents(ctx context.Context, action string, limit int) ([]audit.Stored, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, occurred_at, actor, action, target, ip, details FROM audit_events
		WHERE $1 = '' OR action = $1 ORDER BY id DESC LIMIT $2`, action, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (audit.Stored, error) {
		var e audit.Stored
		var raw []byte
		if err := row.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Target, &e.IP, &raw); err != nil {
			return e, err
		}
		return e, json.Unmarshal(raw, &e.Details)
	})
}

func describe(cfg *pgxpool.Config) string {
	return fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}

// unwrapConnect keeps the innermost reason of a connection failure and
// drops the connection string, which may hold a password.
func unwrapConnect(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Unwrap() != nil {
		return ce.Unwrap()
	}
	return err
}

const (
	uniqueViolation            = "23505"
	foreignKeyViolation        = "23503"
	duplicatePreparedStatement = "42P05"
	undefinedPreparedStatement = "26000"
)

func pgCode(err error) (code, constraint string) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code, pgErr.ConstraintName
	}
	return "", ""
}
