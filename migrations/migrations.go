// Package migrations holds the SQL schema, embedded in the binary.
// Files are numbered NNNN_name.up.sql and applied in order by the store.
// There is one set per SQL dialect, numbered alike; sqlite/0001 says why.
package migrations

import "embed"

// Postgres is the PostgreSQL schema history.
//
//go:embed postgres/*.sql
var Postgres embed.FS

// Sqlite is the same schema history in SQLite's dialect, for the embedded
// store.
//
//go:embed sqlite/*.sql
var Sqlite embed.FS
