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

// ThrottleTx runs fn in one write transaction (BEGIN IMMEDIATE),
// committing if it returns nil. Failures therefore queue, one transaction
// at a time; throttleTx.PutBlock keeps the PostgreSQL store's conditional
// upsert regardless.
func (s *Store) ThrottleTx(ctx context.Context, fn func(throttle.Tx) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return fn(throttleTx{tx, &s.appends}) })
}

// throttleTx is throttle.Tx on a write transaction.
type throttleTx struct {
	tx      *sql.Tx
	appends *audit.Appends
}

func (t throttleTx) InsertFailure(ctx context.Context, f throttle.Failure) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO login_failures (user_key, ip, at) VALUES (?, ?, ?)`, f.UserKey, f.IP, ts(f.At))
	return err
}

func (t throttleTx) PruneFailures(ctx context.Context, until time.Time) error {
	_, err := t.tx.ExecContext(ctx, `DELETE FROM login_failures WHERE at <= ?`, ts(until))
	return err
}

func (t throttleTx) CountFailures(ctx context.Context, k throttle.Kind, subject string, since time.Time) (int, error) {
	var n int
	err := t.tx.QueryRowContext(ctx, `SELECT count(*) FROM login_failures WHERE `+failureColumn[k]+` = ? AND at > ?`, subject, ts(since)).Scan(&n)
	return n, err
}

func (t throttleTx) DeleteFailures(ctx context.Context, k throttle.Kind, subject string) (bool, error) {
	return affectedAny(t.tx.ExecContext(ctx, `DELETE FROM login_failures WHERE `+failureColumn[k]+` = ?`, subject))
}

func (t throttleTx) Block(ctx context.Context, k throttle.Kind, subject string) (*throttle.Block, error) {
	return scanBlock(t.tx.QueryRowContext(ctx, `
		SELECT kind, subject, counted_from, locked_until, streak FROM login_locks WHERE kind = ? AND subject = ?`,
		string(k), subject))
}

func (t throttleTx) PutBlock(ctx context.Context, b throttle.Block) (bool, error) {
	return affectedOne(t.tx.ExecContext(ctx, `
		INSERT INTO login_locks (kind, subject, counted_from, locked_until, streak) VALUES (?1, ?2, ?3, ?4, ?5)
		ON CONFLICT (kind, subject) DO UPDATE
		SET counted_from = excluded.counted_from, locked_until = excluded.locked_until, streak = excluded.streak
		WHERE login_locks.locked_until <= excluded.counted_from`,
		string(b.Kind), b.Subject, ts(b.Since), ts(b.Until), b.Streak))
}

func (t throttleTx) DeleteBlock(ctx context.Context, k throttle.Kind, subject string) (bool, error) {
	return affectedAny(t.tx.ExecContext(ctx, `DELETE FROM login_locks WHERE kind = ? AND subject = ?`, string(k), subject))
}

func (t throttleTx) EndStreak(ctx context.Context, userKey string) error {
	_, err := t.tx.ExecContext(ctx, `UPDATE login_locks SET streak = 0 WHERE kind = 'user' AND subject = ? AND streak <> 0`, userKey)
	return err
}

func (t throttleTx) Audit(ctx context.Context, ev audit.Event) error {
	return insertAudit(ctx, t.appends, t.tx, ev)
}
