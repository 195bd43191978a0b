package audit

import (
	"context"
	"slices"
)

// TailReader reads events back from the trail, oldest first: the stores'
// AuditTail.
type TailReader interface {
	AuditTail(ctx context.Context, q TailQuery) ([]Stored, error)
}

// Trail is the audit trail as people page through it: newest first. It
// only reads; events are written by the change they record.
type Trail struct{ store TailReader }

// NewTrail returns the Trail that store holds.
func NewTrail(store TailReader) *Trail { return &Trail{store: store} }

// Newest lists the newest q.Limit events q selects, newest first; q.Last
// is implied and q.After ignored. Paging back is q.Before the last id
// listed.
func (t *Trail) Newest(ctx context.Context, q TailQuery) ([]Stored, error) {
	q.Last = true
	events, err := t.store.AuditTail(ctx, q)
	if err != nil {
		return nil, err
	}
	slices.Reverse(events)
	return events, nil
}
