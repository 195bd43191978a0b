package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/golang-migrate/migrate/v4/database"
	"github.com/jackc/pgx/v5"

	"github.com/gaia-platform/iam/migrations"
)

// Migrate brings the schema up to date and returns the schema version
// reached. Every pending migration is applied in one transaction, which
// holds a transaction-scoped advisory lock, so replicas starting together
// apply each migration once, also through a transaction-pooling PgBouncer
// (see migrator).
//
// Every command migrates first, so a database URL that misses the query
// mode a transaction pooler needs is said here, with what to set.
func (s *Store) Migrate() (uint, error) {
	m, err := newMigrator(s)
	if err != nil {
		return 0, poolerHint(fmt.Errorf("prepare migrations: %w", err))
	}
	v, err := migrations.Apply(migrations.Postgres, "postgres", "postgres", m)
	if err != nil {
		return v, poolerHint(err)
	}
	if err := s.backfillAuditChain(context.Background()); err != nil {
		return v, fmt.Errorf("migrate: hash the audit events written before the chain: %w", err)
	}
	return v, nil
}

// poolerHint adds what to do to the errors a transaction-pooling
// PgBouncer gives pgx's default query mode, whose prepared statements stay
// on a server connection that the next transaction may not get, or that
// another client's next transaction gets.
func poolerHint(err error) error {
	switch code, _ := pgCode(err); code {
	case duplicatePreparedStatement, undefinedPreparedStatement:
		return fmt.Errorf("%w (behind a transaction-pooling PgBouncer, add default_query_exec_mode=exec to IAM_DATABASE_URL; see docs/storage.md)", err)
	}
	return err
}

// migrationsTable is golang-migrate's version table, the one its own
// PostgreSQL driver kept: databases it migrated carry on from there.
const migrationsTable = "schema_migrations"

// migrator is golang-migrate's database driver, written for the IAM
// because golang-migrate's own PostgreSQL drivers lock with a
// session-level advisory lock (pg_advisory_lock, then pg_advisory_unlock
// on the same connection). Behind a transaction-pooling PgBouncer the two
// reach whichever server connections are free at the time: a lock taken
// on one server connection is "taken" again by every client that lands
// there, and one that is never unlocked stays with its server connection,
// so replicas migrating together broke one another's schema.
//
// Lock instead begins a transaction and takes the same lock id with
// pg_advisory_xact_lock; the migrations, the version table's updates and
// the commit in Unlock all run in that one transaction, which a pooler
// keeps on one server connection. A migration that fails rolls every
// pending one back, so the version table never stays dirty. The lock id
// is golang-migrate's, so a replica running an older binary (the session
// lock, on a direct connection) and this one still exclude each other.
// What it forbids: a migration must be able to run inside a transaction
// block (no CREATE INDEX CONCURRENTLY, no VACUUM), which golang-migrate's
// driver required too, as it sends each file as one multi-statement query.
type migrator struct {
	s      *Store
	lockID int64
	ctx    context.Context // cancelled by Close, ending a Lock still waiting
	cancel context.CancelFunc

	mu      sync.Mutex
	tx      pgx.Tx // the locked transaction, between Lock and Unlock
	version int    // the migration Run applies: golang-migrate sets it first
}

var _ database.Driver = (*migrator)(nil)

func newMigrator(s *Store) (*migrator, error) {
	ctx := context.Background()
	var name, schema string
	if err := s.pool.QueryRow(ctx, `SELECT current_database(), current_schema()`).Scan(&name, &schema); err != nil {
		return nil, err
	}
	id, err := database.GenerateAdvisoryLockId(name, schema, migrationsTable)
	if err != nil {
		return nil, err
	}
	lockID, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	return &migrator{s: s, lockID: lockID, ctx: ctx, cancel: cancel}, nil
}

// Open is not used: the store hands golang-migrate the driver itself.
func (m *migrator) Open(string) (database.Driver, error) {
	return nil, errors.New("the IAM's migrator is made by the store, not opened by URL")
}

// Close ends a lock still waiting and rolls back a transaction left open.
// The store's pool stays open.
func (m *migrator) Close() error {
	m.cancel()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tx != nil {
		_ = m.tx.Rollback(context.Background())
		m.tx = nil
	}
	return nil
}

func (m *migrator) Lock() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tx != nil {
		return database.ErrLocked
	}
	tx, err := m.s.pool.Begin(m.ctx)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(m.ctx, `SELECT pg_advisory_xact_lock($1)`, m.lockID); err != nil {
		_ = tx.Rollback(context.Background())
		return fmt.Errorf("take the migration lock: %w", err)
	}
	// The table golang-migrate's driver created, in the same shape; made
	// only when missing, so a role without CREATE can read the version.
	if _, err := tx.Exec(m.ctx, `
		DO $$ BEGIN
			IF to_regclass('`+migrationsTable+`') IS NULL THEN
				CREATE TABLE `+migrationsTable+` (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
			END IF;
		END $$`); err != nil {
		_ = tx.Rollback(context.Background())
		return fmt.Errorf("create %s: %w", migrationsTable, err)
	}
	m.tx = tx
	return nil
}

// Unlock commits everything done since Lock, releasing the lock. After a
// failed migration the commit is a rollback, and the error is the
// migration's, which golang-migrate reports.
func (m *migrator) Unlock() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tx == nil {
		return database.ErrNotLocked
	}
	err := m.tx.Commit(m.ctx)
	m.tx = nil
	if errors.Is(err, pgx.ErrTxCommitRollback) {
		return nil
	}
	return err
}

func (m *migrator) Run(migration io.Reader) error {
	body, err := io.ReadAll(migration)
	if err != nil {
		return err
	}
	return m.inLock(func(tx pgx.Tx) error {
		// Without arguments pgx sends the file as one simple query, of
		// many statements.
		if _, err := tx.Exec(m.ctx, string(body)); err != nil {
			return fmt.Errorf("migration %d (nothing of this run is applied): %w", m.version, err)
		}
		return nil
	})
}

func (m *migrator) SetVersion(version int, dirty bool) error {
	return m.inLock(func(tx pgx.Tx) error {
		m.version = version
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM ` + migrationsTable)
		if version >= 0 || (version == database.NilVersion && dirty) {
			b.Queue(`INSERT INTO `+migrationsTable+` (version, dirty) VALUES ($1, $2)`, version, dirty)
		}
		return tx.SendBatch(m.ctx, b).Close()
	})
}

// Version reads the version table, in the locked transaction when there
// is one: golang-migrate asks both under the lock and after Unlock.
func (m *migrator) Version() (int, bool, error) {
	m.mu.Lock()
	var q interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	} = m.s.pool
	if m.tx != nil {
		q = m.tx
	}
	m.mu.Unlock()
	var exists bool
	if err := q.QueryRow(m.ctx, `SELECT to_regclass('`+migrationsTable+`') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return database.NilVersion, false, err
	}
	version, dirty := database.NilVersion, false
	err := q.QueryRow(m.ctx, `SELECT version, dirty FROM `+migrationsTable+` LIMIT 1`).Scan(&version, &dirty)
	if errors.Is(err, pgx.ErrNoRows) {
		return database.NilVersion, false, nil
	}
	return version, dirty, err
}

// Drop is refused: nothing in the IAM drops its schema.
func (m *migrator) Drop() error {
	return errors.New("the IAM's migrator does not drop schemas")
}

// inLock runs fn in the locked transaction.
func (m *migrator) inLock(fn func(pgx.Tx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tx == nil {
		return database.ErrNotLocked
	}
	return fn(m.tx)
}
