package tokens

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
)

// RevocationStore keeps revoked token ids until the tokens expire; the
// policy bundle carries them to every service.
type RevocationStore interface {
	// RevokeToken voids the token with id jti, which expires at expiresAt,
	// recording ev in the same transaction. It reports false, and records
	// nothing, when the token was revoked already.
	RevokeToken(ctx context.Context, jti string, expiresAt time.Time, ev audit.Event) (bool, error)
	// RevokeSubject voids every token of subject (a user's or service
	// account's id) issued at or before at, recording ev in the same
	// transaction.
	RevokeSubject(ctx context.Context, subject uuid.UUID, at time.Time, ev audit.Event) error
}
