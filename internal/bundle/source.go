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
	SourceStore
}

// SourceTx is the read-only snapshot a Source is read in, as each store
// reads it in its own SQL: statements only.
type SourceTx interface {
	// Version reads the change counter.
	Version(ctx context.Context) (int64, error)
	// Roles reads every role with its permission codes, byte-order sorted.
	Roles(ctx context.Context) (map[string][]string, error)
	SubjectRevocations(ctx context.Context) (map[string]time.Time, error)
	TokenRevocations(ctx context.Context) (map[string]time.Time, error)
}

// SourceStore opens the snapshots a Source is read in.
type SourceStore interface {
	// BundleSourceTx runs fn in one read-only snapshot.
	BundleSourceTx(ctx context.Context, fn func(SourceTx) error) error
}

// ReadSource reads a Source in one of store's snapshots, so that its
// Version names exactly the state read with it.
func ReadSource(ctx context.Context, store SourceStore) (Source, error) {
	var src Source
	err := store.BundleSourceTx(ctx, func(tx SourceTx) error {
		var err error
		if src.Version, err = tx.Version(ctx); err != nil {
			return err
		}
		if src.Roles, err = tx.Roles(ctx); err != nil {
			return err
		}
		if src.SubjectRevocations, err = tx.SubjectRevocations(ctx); err != nil {
			return err
		}
		src.TokenRevocations, err = tx.TokenRevocations(ctx)
		return err
	})
	if err != nil {
		return Source{}, err
	}
	return src, nil
}
