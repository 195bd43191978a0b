// Package store names everything the IAM asks of its database, as one
// interface: each domain's port (reads and tx ports) and the audit
// port. The PostgreSQL store (internal/store/postgres, production) and the
// embedded SQLite store (internal/store/sqlite, one host) implement it;
// internal/app wires it and internal/storetest holds both to one
// contract. It declares and decides nothing of its own.
package store

import (
	"context"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/bundle"
	"github.com/gaia-platform/iam/internal/consolesession"
	"github.com/gaia-platform/iam/internal/decisionlog"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/serviceaccount"
	"github.com/gaia-platform/iam/internal/throttle"
	"github.com/gaia-platform/iam/internal/tokens"
)

// Store is every domain's port on one database.
type Store interface {
	identity.Store
	authz.Store
	tokens.KeyStore
	tokens.RevocationStore
	tokens.RefreshStore
	bundle.Store
	serviceaccount.Store
	decisionlog.Store
	throttle.Store
	consolesession.Store
	audit.Store
}

// Database is a Store on an open database, which the app also checks,
// migrates and closes.
type Database interface {
	Store
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// Migrate brings the schema up to date, returning its version.
	Migrate() (uint, error)
	// ObserveAudit has o told of every append to the audit chain.
	ObserveAudit(o audit.AppendObserver)
	Close()
}
