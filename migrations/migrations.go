// Package migrations holds the SQL schema, embedded in the binary.
// Files are numbered NNNN_name.up.sql and applied in order by the store.
package migrations

import "embed"

// Postgres is the PostgreSQL schema history.
//
//go:embed postgres/*.sql
var Postgres embed.FS
