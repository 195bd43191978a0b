// Package decisionlog keeps the decisions that services' OPAs upload to
// the IAM in OPA's decision-log format, and answers queries over them. It
// never stores a usable token: bearer tokens are cut out of every event
// before it reaches the store.
package decisionlog

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
)

// Permission is what a service token must hold to upload decision logs.
const Permission = "iam.decisions.write"

// Entry is one stored decision, with the JSON names the CLI and the admin
// API show it under.
type Entry struct {
	ID          int64             `json:"id"`
	ClientID    uuid.UUID         `json:"client_id"` // the service account that uploaded it
	DecisionID  string            `json:"decision_id"`
	Path        string            `json:"path"`
	DecidedAt   time.Time         `json:"timestamp"` // as the OPA recorded it
	ReceivedAt  time.Time         `json:"received_at"`
	Allowed     *bool             `json:"allowed"`  // nil when the result says neither
	Reasons     []string          `json:"reasons"`  // the result's reasons, when it has any
	Subject     string            `json:"subject"`  // sub of input.token, as the token claims it
	TokenID     string            `json:"token_id"` // jti of input.token
	Revision    string            `json:"revision"` // the bundle revision that decided
	Labels      map[string]string `json:"labels"`
	Input       json.RawMessage   `json:"input,omitempty"` // redacted; nil when the event had none
	Result      json.RawMessage   `json:"result,omitempty"`
	Error       json.RawMessage   `json:"error,omitempty"`
	RequestedBy string            `json:"requested_by,omitempty"`
}

// Query selects stored decisions, newest first. Zero fields select all.
type Query struct {
	Since, Until time.Time // decided at or after Since, before Until
	DecisionID   string
	Path         string
	Allowed      *bool
	Subject      string
	Before       int64 // cursor: only entries with a smaller id
	Limit        int
}

// Store keeps decision logs. A store implements InsertDecisionLogs and
// PruneDecisionLogs, the store contract's way in, with Insert and
// PruneBefore over its own DecisionLogTx.
type Store interface {
	// DecisionLogs returns the entries q selects, newest (highest id) first.
	DecisionLogs(ctx context.Context, q Query) ([]Entry, error)
	// DecisionLogTx runs fn in one write transaction, committing if it
	// returns nil, else rolling back and returning fn's error.
	DecisionLogTx(ctx context.Context, fn func(Tx) error) error
}

// Errors of an upload.
var (
	// ErrTooLarge is an upload over the size or event count limits.
	ErrTooLarge = errors.New("decision log upload too large")
	// ErrMalformed is an upload that is not OPA's decision-log format.
	ErrMalformed = errors.New("malformed decision log upload")
	// ErrInvalidCursor is a cursor that no page handed out.
	ErrInvalidCursor = errors.New("invalid cursor")
)

// EncodeLists is how stores keep an entry's reasons and labels: JSON, an
// empty array or object when there are none.
func EncodeLists(e Entry) (reasons, labels []byte, err error) {
	if reasons, err = json.Marshal(nonNil(e.Reasons)); err != nil {
		return nil, nil, err
	}
	if e.Labels == nil {
		e.Labels = map[string]string{}
	}
	labels, err = json.Marshal(e.Labels)
	return reasons, labels, err
}

// DecodeLists reads back what EncodeLists wrote into e.
func DecodeLists(e *Entry, reasons, labels []byte) error {
	if err := json.Unmarshal(reasons, &e.Reasons); err != nil {
		return err
	}
	return json.Unmarshal(labels, &e.Labels)
}

// NullableJSON is how stores pass an entry's raw JSON: as text, or nil
// (NULL) when there is none.
func NullableJSON(raw json.RawMessage) any {
	if raw == nil {
		return nil
	}
	return string(raw)
}

// storedEvent is ev, the audit event of an upload, with its counts.
func storedEvent(ev audit.Event, stored, received int) audit.Event {
	return withDetails(ev, map[string]any{"stored": stored, "duplicates": received - stored})
}

// prunedEvent is ev, the audit event of a pruning, with its count.
func prunedEvent(ev audit.Event, deleted int64) audit.Event {
	return withDetails(ev, map[string]any{"deleted": deleted})
}

func withDetails(ev audit.Event, add map[string]any) audit.Event {
	d := make(map[string]any, len(ev.Details)+len(add))
	maps.Copy(d, ev.Details)
	maps.Copy(d, add)
	ev.Details = d
	return ev
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
