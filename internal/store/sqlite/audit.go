package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/gaia-platform/iam/internal/audit"
)

// insertAudit appends ev to the chain inside tx. Write transactions begin
// IMMEDIATE, holding the database's write lock from the start, so reading
// the chain's head and appending after it cannot interleave with another
// writer, in this process or another. The id is chosen here, as the hash
// covers it: one above the head's. The append is timed for obs.
func insertAudit(ctx context.Context, obs *audit.Appends, tx *sql.Tx, ev audit.Event) error {
	return obs.Timed(func() error { return writeAudit(ctx, tx, ev) })
}

func writeAudit(ctx context.Context, tx *sql.Tx, ev audit.Event) error {
	var headID int64
	var prev sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1`).Scan(&headID, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read audit chain head: %w", err)
	}
	l, raw, err := audit.NextLink(prev.String, headID+1, ev)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO audit_events (id, occurred_at, actor, action, target, ip, details, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		l.ID, ts(l.At), l.Actor, l.Action, l.Target, l.IP, string(raw), l.PrevHash, l.Hash)
	if err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// AuditChain reads up to limit events with ids above after, in id order,
// with their hashes: the input of audit.Verify.
func (s *Store) AuditChain(ctx context.Context, after int64, limit int) ([]audit.Link, error) {
	return auditChain(ctx, s.read, after, limit)
}

func auditChain(ctx context.Context, q querier, after int64, limit int) ([]audit.Link, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT id, occurred_at, actor, action, target, ip, details, prev_hash, hash FROM audit_events
		WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows *sql.Rows) (audit.Link, error) {
		var l audit.Link
		var raw string
		var prev, hash sql.NullString
		if err := rows.Scan(&l.ID, timeCol{&l.At}, &l.Actor, &l.Action, &l.Target, &l.IP, &raw, &prev, &hash); err != nil {
			return l, err
		}
		l.PrevHash, l.Hash = prev.String, hash.String
		return l, json.Unmarshal([]byte(raw), &l.Details)
	})
}

// AuditTail reads the events q selects, oldest first.
func (s *Store) AuditTail(ctx context.Context, q audit.TailQuery) ([]audit.Stored, error) {
	order, after := "ASC", q.After
	if q.Last {
		order, after = "DESC", 0
	}
	var sinceArg, untilArg any // NULL: no bound
	if !q.Since.IsZero() {
		sinceArg = ts(q.Since)
	}
	if !q.Until.IsZero() {
		untilArg = ts(q.Until)
	}
	rows, err := s.read.QueryContext(ctx, `
		SELECT id, occurred_at, actor, action, target, ip, details FROM audit_events
		WHERE id > ?1 AND (?2 = '' OR actor = ?2)
		  AND (?3 = '' OR action = ?3 OR substr(action, 1, length(?3) + 1) = ?3 || '.')
		  AND (?5 = 0 OR id < ?5) AND (?6 IS NULL OR occurred_at >= ?6)
		  AND (?7 IS NULL OR occurred_at < ?7) AND (?8 = '' OR target = ?8)
		ORDER BY id `+order+` LIMIT ?4`, after, q.Actor, q.Type, q.Limit, q.Before, sinceArg, untilArg, q.Target)
	if err != nil {
		return nil, err
	}
	events, err := collect(rows, func(rows *sql.Rows) (audit.Stored, error) {
		var e audit.Stored
		var raw string
		if err := rows.Scan(&e.ID, timeCol{&e.At}, &e.Actor, &e.Action, &e.Target, &e.IP, &raw); err != nil {
			return e, err
		}
		return e, json.Unmarshal([]byte(raw), &e.Details)
	})
	if err != nil {
		return nil, err
	}
	if q.Last {
		slices.Reverse(events)
	}
	return events, nil
}

// backfillAuditChain hashes, in id order, the events written before the
// chain existed, so an upgraded database verifies too. SQLite cannot
// disable a trigger, so the transaction drops the append-only update
// trigger and creates it again from its own stored definition before it
// commits: no other connection ever sees the table without it.
func (s *Store) backfillAuditChain(ctx context.Context) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var missing bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM audit_events WHERE hash IS NULL)`).Scan(&missing); err != nil {
			return err
		}
		if !missing {
			return nil
		}
		var trigger string
		if err := tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_events_no_update'`).Scan(&trigger); err != nil {
			return fmt.Errorf("read the append-only trigger: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DROP TRIGGER audit_events_no_update`); err != nil {
			return err
		}
		err := audit.Backfill(
			func(after int64) ([]audit.Link, error) { return auditChain(ctx, tx, after, audit.BackfillPage) },
			func(id int64, prev, hash string) error {
				_, err := tx.ExecContext(ctx, `UPDATE audit_events SET prev_hash = ?, hash = ? WHERE id = ?`, prev, hash, id)
				return err
			})
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, trigger)
		return err
	})
}

// ObserveAudit has o told of every append to the audit chain from now on.
func (s *Store) ObserveAudit(o audit.AppendObserver) { s.appends.Observe(o) }
