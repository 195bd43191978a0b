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

// ThrottleTx runs fn in one transaction, committing if it returns nil.
// Transactions run at READ COMMITTED, so concurrent failures of one
// subject may both decide to lock it: throttleTx.PutBlock's conditional
// upsert lets one of them store the lock.
func (s *Store) ThrottleTx(ctx context.Context, fn func(throttle.Tx) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return fn(throttleTx{tx, &s.appends}) })
}

// throttleTx is throttle.Tx on a pgx transaction.
type throttleTx struct {
	tx      pgx.Tx
	appends *audit.Appends
}

func (t throttleTx) InsertFailure(ctx context.Context, f throttle.Failure) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO login_failures (user_key, ip, at) VALUES ($1, $2, $3)`, f.UserKey, f.IP, f.At)
	return err
}

func (t throttleTx) PruneFailures(ctx context.Context, until time.Time) error {
	_, err := t.tx.Exec(ctx, `DELETE FROM login_failures WHERE at <= $1`, until)
	return err
}

func (t throttleTx) CountFailures(ctx context.Context, k throttle.Kind, subject string, since time.Time) (int, error) {
	var n int
	err := t.tx.QueryRow(ctx, `SELECT count(*) FROM login_failures WHERE `+failureColumn[k]+` = $1 AND at > $2`, subject, since).Scan(&n)
	return n, err
}

func (t throttleTx) DeleteFailures(ctx context.Context, k throttle.Kind, subject string) (bool, error) {
	tag, err := t.tx.Exec(ctx, `DELETE FROM login_failures WHERE `+failureColumn[k]+` = $1`, subject)
	return tag.RowsAffected() > 0, err
}

func (t throttleTx) Block(ctx context.Context, k throttle.Kind, subject string) (*throttle.Block, error) {
	return scanBlock(t.tx.QueryRow(ctx, `
		SELECT kind, subject, counted_from, locked_until, streak FROM login_locks WHERE kind = $1 AND subject = $2`,
		string(k), subject))
}

func (t throttleTx) PutBlock(ctx context.Context, b throttle.Block) (bool, error) {
	tag, err := t.tx.Exec(ctx, `
		INSERT INTO login_locks (kind, subject, counted_from, locked_until, streak) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (kind, subject) DO UPDATE
		SET counted_from = EXCLUDED.counted_from, locked_until = EXCLUDED.locked_until, streak = EXCLUDED.streak
		WHERE login_locks.locked_until <= EXCLUDED.counted_from`,
		string(b.Kind), b.Subject, b.Since, b.Until, b.Streak)
	return tag.RowsAffected() == 1, err
}

func (t throttleTx) DeleteBlock(ctx context.Context, k throttle.Kind, subject string) (bool, error) {
	tag, err := t.tx.Exec(ctx, `DELETE FROM login_locks WHERE kind = $1 AND subject = $2`, string(k), subject)
	return tag.RowsAffected() > 0, err
}

func (t throttleTx) EndStreak(ctx context.Context, userKey string) error {
	_, err := t.tx.Exec(ctx, `UPDATE login_locks SET streak = 0 WHERE kind = 'user' AND subject = $1 AND streak <> 0`, userKey)
	return err
}

func (t throttleTx) Audit(ctx context.Context, ev audit.Event) error {
	return insertAudit(ctx, t.appends, t.tx, ev)
}
