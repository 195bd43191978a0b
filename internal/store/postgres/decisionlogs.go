package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/decisionlog"
)

// DecisionLogTx runs fn in one transaction, committing if it returns nil.
func (s *Store) DecisionLogTx(ctx context.Context, fn func(decisionlog.Tx) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return fn(decisionLogTx{tx, &s.appends}) })
}

// decisionLogTx is decisionlog.Tx on a pgx transaction.
type decisionLogTx struct {
	tx      pgx.Tx
	appends *audit.Appends
}

// InsertEntries sends every insert in one batch, one round trip.
func (t decisionLogTx) InsertEntries(ctx context.Context, entries []decisionlog.Entry) (int, error) {
	b := &pgx.Batch{}
	for _, e := range entries {
		reasons, labels, err := decisionlog.EncodeLists(e)
		if err != nil {
			return 0, err
		}
		b.Queue(`
			INSERT INTO decision_logs (client_id, decision_id, path, decided_at, received_at, allowed, reasons,
				subject, token_id, revision, labels, input, result, error, requested_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
			ON CONFLICT (client_id, decision_id) DO NOTHING`,
			e.ClientID, e.DecisionID, e.Path, e.DecidedAt, e.ReceivedAt, e.Allowed, jsonArg(reasons),
			e.Subject, e.TokenID, e.Revision, jsonArg(labels), decisionlog.NullableJSON(e.Input), decisionlog.NullableJSON(e.Result), decisionlog.NullableJSON(e.Error), e.RequestedBy)
	}
	results := t.tx.SendBatch(ctx, b)
	stored := 0
	for range entries {
		tag, err := results.Exec()
		if err != nil {
			results.Close()
			return 0, err
		}
		stored += int(tag.RowsAffected())
	}
	return stored, results.Close()
}

func (t decisionLogTx) DeleteReceivedBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := t.tx.Exec(ctx, `DELETE FROM decision_logs WHERE received_at < $1`, cutoff)
	return tag.RowsAffected(), err
}

func (t decisionLogTx) Audit(ctx context.Context, ev audit.Event) error {
	return insertAudit(ctx, t.appends, t.tx, ev)
}

// DecisionLogs returns the entries q selects, newest first.
func (s *Store) DecisionLogs(ctx context.Context, q decisionlog.Query) ([]decisionlog.Entry, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, client_id, decision_id, path, decided_at, received_at, allowed, reasons, subject, token_id,
			revision, labels, input, result, error, requested_by
		FROM decision_logs
		WHERE ($1::timestamptz IS NULL OR decided_at >= $1) AND ($2::timestamptz IS NULL OR decided_at < $2)
		  AND ($3 = '' OR decision_id = $3) AND ($4 = '' OR path = $4)
		  AND ($5::boolean IS NULL OR allowed = $5) AND ($6 = '' OR subject = $6)
		  AND ($7 = 0 OR id < $7)
		ORDER BY id DESC LIMIT $8`,
		nullTime(q.Since), nullTime(q.Until), q.DecisionID, q.Path, q.Allowed, q.Subject, q.Before, q.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (decisionlog.Entry, error) {
		var e decisionlog.Entry
		var reasons, labels, input, result, evalErr []byte
		if err := row.Scan(&e.ID, &e.ClientID, &e.DecisionID, &e.Path, &e.DecidedAt, &e.ReceivedAt, &e.Allowed,
			&reasons, &e.Subject, &e.TokenID, &e.Revision, &labels, &input, &result, &evalErr, &e.RequestedBy); err != nil {
			return e, err
		}
		e.DecidedAt, e.ReceivedAt = e.DecidedAt.UTC(), e.ReceivedAt.UTC()
		e.Input, e.Result, e.Error = rawOrNil(input), rawOrNil(result), rawOrNil(evalErr)
		return e, decisionlog.DecodeLists(&e, reasons, labels)
	})
}

func rawOrNil(b []byte) json.RawMessage {
	if b == nil {
		return nil
	}
	return json.RawMessage(b)
}
