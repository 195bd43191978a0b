// Package sqlite implements Gaia IAM's stores on an embedded SQLite file
// with the pure-Go modernc.org/sqlite driver: the zero-setup store for one
// host. PostgreSQL is the production store; both pass the same contract
// (internal/storetest). SQL is written out here and nowhere else.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gaia-platform/iam/internal/audit"
)

// Store is the SQLite implementation of the identity, authz, tokens,
// bundle and audit stores.
//
// Writes go through one connection, so writers in this process queue in
// database/sql instead of polling SQLite's lock, and every write
// transaction begins IMMEDIATE: it takes the database's write lock up
// front, so writers in other processes on the same file (the CLI beside
// the server) wait for it under the busy timeout instead of failing
// half-way. Reads use a pool of their own and, in WAL mode, never wait for
// a writer.
type Store struct {
	path    string
	write   *sql.DB
	read    *sql.DB
	appends audit.Appends // every append to the audit chain meets the observer here
}

// busyTimeoutMS is how long a statement waits for another connection's lock
// before it fails with "database is locked".
const busyTimeoutMS = 5000

// Open opens, creating it when missing, the SQLite database file at path.
// Its directory must exist. A new file is readable by its owner only: it
// holds password hashes and maybe the signing key, and SQLite gives its
// -wal and -shm files the same mode.
func Open(ctx context.Context, path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("database path %s: %w", path, err)
	}
	if err := createOwnerOnly(abs); err != nil {
		return nil, err
	}
	// The writer opens first: it switches a new file to WAL mode, which is
	// then a property of the file, before any reader connects.
	write, err := openPool(ctx, abs, writer)
	if err != nil {
		return nil, err
	}
	read, err := openPool(ctx, abs, reader)
	if err != nil {
		write.Close()
		return nil, err
	}
	return &Store{path: abs, write: write, read: read}, nil
}

func createOwnerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("database %s cannot be created: %w", path, err)
	}
	return f.Close()
}

type poolKind int

const (
	writer poolKind = iota
	reader
	locker // a lock file: see lockMigrations
)

func openPool(ctx context.Context, path string, kind poolKind) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, kind))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	conns := 1
	if kind == reader {
		conns = max(4, runtime.NumCPU())
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s cannot be opened: %w", path, err)
	}
	return db, nil
}

// dsn is the driver's name for the file at path, with the settings every
// connection of a pool gets as it opens: busy timeout first, so that the
// PRAGMAs after it wait for locks too, then foreign keys (off by default
// in SQLite) and, for the writer, WAL mode and IMMEDIATE transactions.
// Readers are query_only, so a write that strays onto one fails loudly.
func dsn(path string, kind poolKind) string {
	q := url.Values{"_pragma": {fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS), "foreign_keys(1)"}}
	switch kind {
	case writer:
		q["_pragma"] = append(q["_pragma"], "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	case reader:
		q["_pragma"] = append(q["_pragma"], "query_only(1)")
	case locker:
		q.Set("_txlock", "immediate")
	}
	// A file: URI, so that a path holding '?' or '#' stays a path.
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows: file:///C:/...
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	return u.String()
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close releases every connection.
func (s *Store) Close() {
	s.read.Close()
	s.write.Close()
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.read.PingContext(ctx) }

// inTx runs fn in a write transaction (BEGIN IMMEDIATE), committing if it
// returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// readTx runs fn in a read transaction: in WAL mode one snapshot, taken at
// its first read, for everything fn reads.
func (s *Store) readTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	return fn(tx)
}

// AppendAudit records an event on its own.
func (s *Store) AppendAudit(ctx context.Context, ev audit.Event) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return insertAudit(ctx, &s.appends, tx, ev) })
}

// AuditEvents returns the newest events first, at most limit of them,
// optionally only those of one action.
func (s *Store) AuditEvents(ctx context.Context, action string, limit int) ([]audit.Stored, error) {
	rows, err := s.read.QueryContext(ctx, `
		SELECT id, occurred_at, actor, action, target, ip, details FROM audit_events
		WHERE ?1 = '' OR action = ?1 ORDER BY id DESC LIMIT ?2`, action, limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows *sql.Rows) (audit.Stored, error) {
		var e audit.Stored
		var raw string
		if err := rows.Scan(&e.ID, timeCol{&e.At}, &e.Actor, &e.Action, &e.Target, &e.IP, &raw); err != nil {
			return e, err
		}
		return e, json.Unmarshal([]byte(raw), &e.Details)
	})
}

// collect reads every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(*sql.Rows) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// querier is a pool or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queryStrings reads a one-column query of text.
func queryStrings(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows *sql.Rows) (string, error) {
		var s string
		return s, rows.Scan(&s)
	})
}

// sqliteCode is the extended result code of a SQLite error, or 0.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

const (
	uniqueViolation     = sqlite3.SQLITE_CONSTRAINT_UNIQUE
	foreignKeyViolation = sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
)
