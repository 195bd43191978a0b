package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/throttle"
)

// failureColumn is the login_failures column a kind counts by.
var failureColumn = map[throttle.Kind]string{throttle.KindUser: "user_key", throttle.KindIP: "ip"}

// LoginBlockedUntil is the latest end of an active lock on userKey or ip.
func (s *Store) LoginBlockedUntil(ctx context.Context, userKey, ip string, at time.Time) (time.Time, error) {
	var until *time.Time
	err := s.pool.QueryRow(ctx, `
		SELECT max(locked_until) FROM login_locks
		WHERE ((kind = 'user' AND subject = $1) OR (kind = 'ip' AND subject = $2)) AND locked_until > $3`,
		userKey, ip, at).Scan(&until)
	if err != nil || until == nil {
		return time.Time{}, err
	}
	return *until, nil
}

// RecordLoginFailure stores f and locks what it brings to its limit.
func (s *Store) RecordLoginFailure(ctx context.Context, f throttle.Failure, p throttle.Policy) ([]throttle.Block, error) {
	var locks []throttle.Block
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		locks = nil
		if _, err := tx.Exec(ctx, `DELETE FROM login_failures WHERE at <= $1`, f.At.Add(-p.Window)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO login_failures (user_key, ip, at) VALUES ($1, $2, $3)`, f.UserKey, f.IP, f.At); err != nil {
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
// lock Policy.Lock decides on, with its event. The conditional upsert keeps
// a concurrent failure from locking the subject a second time.
func lockIfDue(ctx context.Context, tx pgx.Tx, f throttle.Failure, k throttle.Kind, p throttle.Policy) (throttle.Block, bool, error) {
	subject := f.Subject(k)
	prev, err := scanBlock(tx.QueryRow(ctx, `
		SELECT kind, subject, counted_from, locked_until, streak FROM login_locks WHERE kind = $1 AND subject = $2`,
		string(k), subject))
	if err != nil {
		return throttle.Block{}, false, err
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM login_failures WHERE `+failureColumn[k]+` = $1 AND at > $2`,
		subject, p.CountFrom(prev, f.At)).Scan(&n); err != nil {
		return throttle.Block{}, false, err
	}
	b, lock := p.Lock(k, subject, n, prev, f.At)
	if !lock {
		return b, false, nil
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO login_locks (kind, subject, counted_from, locked_until, streak) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (kind, subject) DO UPDATE
		SET counted_from = EXCLUDED.counted_from, locked_until = EXCLUDED.locked_until, streak = EXCLUDED.streak
		WHERE login_locks.locked_until <= EXCLUDED.counted_from`,
		string(k), subject, b.Since, b.Until, b.Streak)
	if err != nil || tag.RowsAffected() == 0 {
		return b, false, err
	}
	return b, true, insertAudit(ctx, tx, b.Event(f.IP))
}

// scanBlock reads one lock row; nil when there is none.
func scanBlock(row pgx.Row) (*throttle.Block, error) {
	var b throttle.Block
	var kind string
	err := row.Scan(&kind, &b.Subject, &b.Since, &b.Until, &b.Streak)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	b.Kind = throttle.Kind(kind)
	return &b, err
}

// ClearLoginFailures forgets userKey's failures and ends its streak.
func (s *Store) ClearLoginFailures(ctx context.Context, userKey string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM login_failures WHERE user_key = $1`, userKey); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE login_locks SET streak = 0 WHERE kind = 'user' AND subject = $1 AND streak <> 0`, userKey)
		return err
	})
}

// Unblock ends a subject's lock and forgets its failures.
func (s *Store) Unblock(ctx context.Context, k throttle.Kind, subject string, ev audit.Event) (bool, error) {
	return s.change(ctx, ev, func(tx pgx.Tx) (bool, error) {
		locks, err := tx.Exec(ctx, `DELETE FROM login_locks WHERE kind = $1 AND subject = $2`, string(k), subject)
		if err != nil {
			return false, err
		}
		failures, err := tx.Exec(ctx, `DELETE FROM login_failures WHERE `+failureColumn[k]+` = $1`, subject)
		return locks.RowsAffected()+failures.RowsAffected() > 0, err
	})
}

// Blocks lists the locks active at at, the soonest to end first.
func (s *Store) Blocks(ctx context.Context, at time.Time) ([]throttle.Block, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT kind, subject, counted_from, locked_until, streak FROM login_locks
		WHERE locked_until > $1 ORDER BY locked_until, kind, subject`, at)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (throttle.Block, error) {
		b, err := scanBlock(row)
		if err != nil {
			return throttle.Block{}, err
		}
		return *b, nil
	})
}
