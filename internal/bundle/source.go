// Package bundle compiles the RBAC data, the revocations, the IAM's public
// keys and the Rego of policies/ into the signed OPA bundle services load.
// It compiles from store snapshots, in the background: never per request.
package bundle

import (
	"context"
	"time"
)

// Source is what a bundle is compiled from, as one consistent snapshot.
type Source struct {
	Version            int64                // the change counter the snapshot saw
	Roles              map[string][]string  // every role → its permission codes, byte-order sorted
	SubjectRevocations map[string]time.Time // subject → its tokens issued at or before this are void
	TokenRevocations   map[string]time.Time // jti → the revoked token's expiry
}

// Store reads a bundle's source.
type Store interface {
	// BundleVersion is a counter that moves whenever the source changes.
	BundleVersion(ctx context.Context) (int64, error)
	// BundleSource reads the whole source in one snapshot.
	BundleSource(ctx context.Context) (Source, error)
}
