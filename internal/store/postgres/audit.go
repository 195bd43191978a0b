package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaia-platform/iam/internal/audit"
)

// auditChainLock is the transaction-level advisory lock that serialises
// appends to the audit chain: between reading the chain's head and
// committing the row after it, no other writer may append.
const auditChainLock int64 = 0x6761696161756474 // "gaiaaudt"

// insertAudit appends ev to the chain inside tx. It takes the chain lock
// just before the insert, so a transaction holds it only from its audit
// row to its commit; the id comes from the sequence under the lock, so id
// order is chain order. Every writer waits while the lock is held, so the
// lock, the head and the id travel in one round trip: the statements of a
// batch run in order, and under READ COMMITTED the head read sees every
// row committed before the lock was granted.
func insertAudit(ctx context.Context, obs *audit.Appends, tx pgx.Tx, ev audit.Event) error {
	return appendAudit(ctx, obs, tx, &pgx.Batch{}, ev)
}

// appendAudit is insertAudit after the statements already queued in batch,
// sent in the same round trip, timed for obs.
func appendAudit(ctx context.Context, obs *audit.Appends, tx pgx.Tx, batch *pgx.Batch, ev audit.Event) error {
	return obs.Timed(func() error { return sendAudit(ctx, tx, batch, ev) })
}

func sendAudit(ctx context.Context, tx pgx.Tx, batch *pgx.Batch, ev audit.Event) error {
	var prev *string
	var id int64
	batch.Queue(`SELECT pg_advisory_xact_lock($1)`, auditChainLock)
	batch.Queue(`SELECT (SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1), nextval('audit_events_id_seq')`).
		QueryRow(func(row pgx.Row) error { return row.Scan(&prev, &id) })
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("append audit event: %w", err)
	}
	l, raw, err := audit.NextLink(deref(prev), id, ev)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO audit_events (id, occurred_at, actor, action, target, ip, details, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		l.ID, l.At, l.Actor, l.Action, l.Target, l.IP, jsonArg(raw), l.PrevHash, l.Hash)
	if err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// lockAuditChain holds the chain lock until tx ends; taking it again in
// the same transaction is free.
func lockAuditChain(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, auditChainLock); err != nil {
		return fmt.Errorf("lock audit chain: %w", err)
	}
	return nil
}

// jsonArg is JSON as the argument of a jsonb parameter. It goes as text:
// in the query modes that learn no parameter types from the server (exec,
// simple_protocol, which a transaction-pooling PgBouncer may call for, see
// docs/storage.md) pgx sends a []byte as bytea, which jsonb refuses.
func jsonArg(raw []byte) string { return string(raw) }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

type rowsQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// AuditChain reads up to limit events with ids above after, in id order,
// with their hashes: the input of audit.Verify.
func (s *Store) AuditChain(ctx context.Context, after int64, limit int) ([]audit.Link, error) {
	return auditChain(ctx, s.pool, after, limit)
}

func auditChain(ctx context.Context, q rowsQuerier, after int64, limit int) ([]audit.Link, error) {
	rows, err := q.Query(ctx, `
		SELECT id, occurred_at, actor, action, target, ip, details, prev_hash, hash FROM audit_events
		WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (audit.Link, error) {
		var l audit.Link
		var raw []byte
		var prev, hash *string
		if err := row.Scan(&l.ID, &l.At, &l.Actor, &l.Action, &l.Target, &l.IP, &raw, &prev, &hash); err != nil {
			return l, err
		}
		l.PrevHash, l.Hash = deref(prev), deref(hash)
		return l, json.Unmarshal(raw, &l.Details)
	})
}

// AuditTail reads the events q selects, oldest first.
func (s *Store) AuditTail(ctx context.Context, q audit.TailQuery) ([]audit.Stored, error) {
	order, after := "ASC", q.After
	if q.Last {
		order, after = "DESC", 0
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id, occurred_at, actor, action, target, ip, details FROM audit_events
		WHERE id > $1 AND ($2 = '' OR actor = $2)
		  AND ($3 = '' OR action = $3 OR substr(action, 1, length($3) + 1) = $3 || '.')
		  AND ($5 = 0 OR id < $5) AND ($6::timestamptz IS NULL OR occurred_at >= $6)
		  AND ($7::timestamptz IS NULL OR occurred_at < $7) AND ($8 = '' OR target = $8)
		ORDER BY id `+order+` LIMIT $4`, after, q.Actor, q.Type, q.Limit, q.Before, optionalTime(q.Since), optionalTime(q.Until), q.Target)
	if err != nil {
		return nil, err
	}
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (audit.Stored, error) {
		var e audit.Stored
		var raw []byte
		if err := row.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Target, &e.IP, &raw); err != nil {
			return e, err
		}
		return e, json.Unmarshal(raw, &e.Details)
	})
	if err != nil {
		return nil, err
	}
	if q.Last {
		slices.Reverse(events)
	}
	return events, nil
}

// optionalTime is a TailQuery's time bound as a query argument: NULL
// when unset.
func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// backfillAuditChain hashes, in id order, the events written before the
// chain existed, so an upgraded database verifies too. It runs after the
// SQL migrations, under the chain lock, and lifts the append-only trigger
// for its own transaction only (ALTER TABLE is transactional).
func (s *Store) backfillAuditChain(ctx context.Context) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockAuditChain(ctx, tx); err != nil {
			return err
		}
		var missing bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM audit_events WHERE hash IS NULL)`).Scan(&missing); err != nil {
			return err
		}
		if !missing {
			return nil
		}
		if _, err := tx.Exec(ctx, `ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete`); err != nil {
			return err
		}
		err := audit.Backfill(
			func(after int64) ([]audit.Link, error) { return auditChain(ctx, tx, after, audit.BackfillPage) },
			func(id int64, prev, hash string) error {
				_, err := tx.Exec(ctx, `UPDATE audit_events SET prev_hash = $2, hash = $3 WHERE id = $1`, id, prev, hash)
				return err
			})
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete`)
		return err
	})
}

// ObserveAudit has o told of every append to the audit chain from now on.
func (s *Store) ObserveAudit(o audit.AppendObserver) { s.appends.Observe(o) }
