package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/decisionlog"
)

// DecisionLogTx runs fn in one write transaction (BEGIN IMMEDIATE),
// committing if it returns nil.
func (s *Store) DecisionLogTx(ctx context.Context, fn func(decisionlog.Tx) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return fn(decisionLogTx{tx, &s.appends}) })
}

// decisionLogTx is decisionlog.Tx on a write transaction.
type decisionLogTx struct {
	tx      *sql.Tx
	appends *audit.Appends
}

// InsertEntries runs one prepared insert per entry.
func (t decisionLogTx) InsertEntries(ctx context.Context, entries []decisionlog.Entry) (int, error) {
	stmt, err := t.tx.PrepareContext(ctx, `
		INSERT INTO decision_logs (client_id, decision_id, path, decided_at, received_at, allowed, reasons,
			subject, token_id, revision, labels, input, result, error, requested_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (client_id, decision_id) DO NOTHING`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	stored := 0
	for _, e := range entries {
		reasons, labels, err := decisionlog.EncodeLists(e)
		if err != nil {
			return 0, err
		}
		res, err := stmt.ExecContext(ctx, e.ClientID.String(), e.DecisionID, e.Path, ts(e.DecidedAt), ts(e.ReceivedAt),
			e.Allowed, string(reasons), e.Subject, e.TokenID, e.Revision, string(labels),
			decisionlog.NullableJSON(e.Input), decisionlog.NullableJSON(e.Result), decisionlog.NullableJSON(e.Error), e.RequestedBy)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		stored += int(n)
	}
	return stored, nil
}

func (t decisionLogTx) DeleteReceivedBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM decision_logs WHERE received_at < ?`, ts(cutoff))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t decisionLogTx) Audit(ctx context.Context, ev audit.Event) error {
	return insertAudit(ctx, t.appends, t.tx, ev)
}

// DecisionLogs returns the entries q selects, newest first.
func (s *Store) DecisionLogs(ctx context.Context, q decisionlog.Query) ([]decisionlog.Entry, error) {
	var allowed any
	if q.Allowed != nil {
		allowed = *q.Allowed
	}
	rows, err := s.read.QueryContext(ctx, `
		SELECT id, client_id, decision_id, path, decided_at, received_at, allowed, reasons, subject, token_id,
			revision, labels, input, result, error, requested_by
		FROM decision_logs
		WHERE (?1 = '' OR decided_at >= ?1) AND (?2 = '' OR decided_at < ?2)
		  AND (?3 = '' OR decision_id = ?3) AND (?4 = '' OR path = ?4)
		  AND (?5 IS NULL OR allowed = ?5) AND (?6 = '' OR subject = ?6)
		  AND (?7 = 0 OR id < ?7)
		ORDER BY id DESC LIMIT ?8`,
		optionalTS(q.Since), optionalTS(q.Until), q.DecisionID, q.Path, allowed, q.Subject, q.Before, q.Limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows *sql.Rows) (decisionlog.Entry, error) {
		var e decisionlog.Entry
		var reasons, labels string
		var input, result, evalErr sql.NullString
		if err := rows.Scan(&e.ID, &e.ClientID, &e.DecisionID, &e.Path, timeCol{&e.DecidedAt}, timeCol{&e.ReceivedAt},
			&e.Allowed, &reasons, &e.Subject, &e.TokenID, &e.Revision, &labels, &input, &result, &evalErr,
			&e.RequestedBy); err != nil {
			return e, err
		}
		e.Input, e.Result, e.Error = rawText(input), rawText(result), rawText(evalErr)
		return e, decisionlog.DecodeLists(&e, []byte(reasons), []byte(labels))
	})
}

// optionalTS is t as stored, or "" for the zero time.
func optionalTS(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return ts(t)
}

func rawText(s sql.NullString) json.RawMessage {
	if !s.Valid {
		return nil
	}
	return json.RawMessage(s.String)
}
