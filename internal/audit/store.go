package audit

import "context"

// Store is the audit port of a store: events appended on their own (an
// attempt that changed nothing, such as a failed login) and the trail
// read back. An event of a change is appended in that change's own
// transaction, through its domain's tx port, never through Store.
type Store interface {
	// AppendAudit records ev in a transaction of its own.
	AppendAudit(ctx context.Context, ev Event) error
	TailReader
	// AuditEvents returns the newest events first, at most limit of them,
	// only those of action unless it is "".
	AuditEvents(ctx context.Context, action string, limit int) ([]Stored, error)
	// AuditChain reads up to limit events with ids above after, in id
	// order, with their hashes: the input of Verify.
	AuditChain(ctx context.Context, after int64, limit int) ([]Link, error)
}
