package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/decisionlog"
)

// InsertDecisionLogs stores entries, skipping decisions the same client
// stored before, in one transaction with ev when any is new.
func (s *Store) InsertDecisionLogs(ctx context.Context, entries []decisionlog.Entry, ev audit.Event) (int, error) {
	stored := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, e := range entries {
			reasons, labels, err := decisionlog.EncodeLists(e)
			if err != nil {
				return err
			}
			b.Queue(`
				INSERT INTO decision_logs (client_id, decision_id, path, decided_at, received_at, allowed, reasons,
					subject, token_id, revision, labels, input, result, error, requested_by)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
				ON CONFLICT (client_id, decision_id) DO NOTHING`,
				e.ClientID, e.DecisionID, e.Path, e.DecidedAt, e.ReceivedAt, e.Allowed, reasons,
				e.Subject, e.TokenID, e.Revision, labels, decisionlog.NullableJSON(e.Input), decisionlog.NullableJSON(e.Result), decisionlog.NullableJSON(e.Error), e.RequestedBy)
		}
		results := tx.SendBatch(ctx, b)
		for range entries {
			tag, err := results.Exec()
			if err != nil {
				results.Close()
				return err
			}
			stored += int(tag.RowsAffected())
		}
		if err := results.Close(); err != nil {
			return err
		}
		if stored == 0 {
			return nil
		}
		return insertAudit(ctx, tx, decisionlog.StoredEvent(ev, stored, len(entries)))
	})
	if err != nil {
		return 0, err
	}
	return stored, nil
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

// PruneDecisionLogs deletes the entries received before cutoff.
func (s *Store) PruneDecisionLogs(ctx context.Context, cutoff time.Time, ev audit.Event) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM decision_logs WHERE received_at < $1`, cutoff)
		if err != nil {
			return err
		}
		if n = tag.RowsAffected(); n == 0 {
			return nil
		}
		return insertAudit(ctx, tx, decisionlog.PrunedEvent(ev, n))
	})
	return n, err
}
