package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/throttle"
)

// failureColumn is the login_failures column a kind counts by.
var failureColumn = map[throttle.Kind]string{throttle.KindUser: "user_key", throttle.KindIP: "ip"}

// LoginBlockedUntil is the latest end of an active lock on userKey or ip.
func (s *Store) LoginBlockedUntil(ctx context.Context, userKey, ip string, at time.Time) (time.Time, error) {
	var until *time.Time
	err := s.read.QueryRowContext(ctx, `
		SELECT max(locked_until) FROM login_locks
		WHERE ((kind = 'user' AND subject = ?1) OR (kind = 'ip' AND subject = ?2)) AND locked_until > ?3`,
		userKey, ip, ts(at)).Scan(nullTimeCol{&until})
	if err != nil || until == nil {
		return time.Time{}, err
	}
	return *until, nil
}

// RecordLoginFailure stores f and locks what it brings to its limit.
func (s *Store) RecordLoginFailure(ctx context.Context, f throttle.Failure, p throttle.Policy) ([]throttle.Block, error) {
	var locks []throttle.Block
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		locks = nil
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE at <= ?`, ts(f.At.Add(-p.Window))); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO login_failures (user_key, ip, at) VALUES (?, ?, ?)`, f.UserKey, f.IP, ts(f.At)); err != nil {
			return err
		}
		for _, k := range []throttle.Kind{throttle.KindUser, throttle.KindIP} {
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
// lock Policy.Lock decides on, with its event. Write transactions are
// IMMEDIATE, so failures queue; the conditional upsert agrees with the
// PostgreSQL store's regardless.
func lockIfDue(ctx context.Context, tx *sql.Tx, f throttle.Failure, k throttle.Kind, p throttle.Policy) (throttle.Block, bool, error) {
	subject := f.Subject(k)
	prev, err := scanBlock(tx.QueryRowContext(ctx, `
		SELECT kind, subject, counted_from, locked_until, streak FROM login_locks WHERE kind = ? AND subject = ?`,
		string(k), subject))
	if err != nil {
		return throttle.Block{}, false, err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM login_failures WHERE `+failureColumn[k]+` = ? AND at > ?`,
		subject, ts(p.CountFrom(prev, f.At))).Scan(&n); err != nil {
		return throttle.Block{}, false, err
	}
	b, lock := p.Lock(k, subject, n, prev, f.At)
	if !lock {
		return b, false, nil
	}
	res, err := tx.ExecContext(ctx, `
		INSERT INTO login_locks (kind, subject, counted_from, locked_until, streak) VALUES (?1, ?2, ?3, ?4, ?5)
		ON CONFLICT (kind, subject) DO UPDATE
		SET counted_from = excluded.counted_from, locked_until = excluded.locked_until, streak = excluded.streak
		WHERE login_locks.locked_until <= excluded.counted_from`,
		string(k), subject, ts(b.Since), ts(b.Until), b.Streak)
	if err != nil {
		return b, false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return b, false, err
	}
	return b, true, insertAudit(ctx, tx, b.Event(f.IP))
}

// scanBlock reads one lock row; nil when there is none.
func scanBlock(row scanner) (*throttle.Block, error) {
	var b throttle.Block
	var kind string
	err := row.Scan(&kind, &b.Subject, timeCol{&b.Since}, timeCol{&b.Until}, &b.Streak)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	b.Kind = throttle.Kind(kind)
	return &b, nil
}

// ClearLoginFailures forgets userKey's failures and ends its streak.
func (s *Store) ClearLoginFailures(ctx context.Context, userKey string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE user_key = ?`, userKey); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE login_locks SET streak = 0 WHERE kind = 'user' AND subject = ? AND streak <> 0`, userKey)
		return err
	})
}

// Unblock ends a subject's lock and forgets its failures.
func (s *Store) Unblock(ctx context.Context, k throttle.Kind, subject string, ev audit.Event) (bool, error) {
	return s.change(ctx, ev, func(tx *sql.Tx) (bool, error) {
		locks, err := tx.ExecContext(ctx, `DELETE FROM login_locks WHERE kind = ? AND subject = ?`, string(k), subject)
		if err != nil {
			return false, err
		}
		failures, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE `+failureColumn[k]+` = ?`, subject)
		if err != nil {
			return false, err
		}
		nl, _ := locks.RowsAffected()
		nf, _ := failures.RowsAffected()
		return nl+nf > 0, nil
	})
}

// Blocks lists the locks active at at, the soonest to end first.
func (s *Store) Blocks(ctx context.Context, at time.Time) ([]throttle.Block, error) {
	rows, err := s.read.QueryContext(ctx, `
		SELECT kind, subject, counted_from, locked_until, streak FROM login_locks
		WHERE locked_until > ? ORDER BY locked_until, kind, subject`, ts(at))
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows *sql.Rows) (throttle.Block, error) {
		b, err := scanBlock(rows)
		if err != nil {
			return throttle.Block{}, err
		}
		return *b, nil
	})
}
