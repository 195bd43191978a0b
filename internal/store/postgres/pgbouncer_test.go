package postgres_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gaia-platform/iam/internal/storetest"
	"github.com/gaia-platform/iam/internal/testkit"
)

// bouncedMode is the pgx query mode docs/storage.md gives for a
// transaction-pooling PgBouncer: it keeps no prepared statement on a
// server connection, which the next transaction may not get.
const bouncedMode = "exec"

// The store contract holds through PgBouncer in transaction pooling mode,
// with fewer server connections than the store's pool.
func TestContract_ThroughPgBouncerInTransactionMode(t *testing.T) {
	bouncer := testkit.StartPgBouncer(t)
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return openMigrated(t, bouncer.URL(testkit.DatabaseURL(t), bouncedMode))
	})
}

// Replicas starting together through the bouncer each migrate: one
// applies the migrations, the others find them applied. golang-migrate's
// own driver, whose session-level lock the bouncer does not keep, left
// such databases dirty.
func TestMigrate_ConcurrentReplicasThroughPgBouncerApplyOnce(t *testing.T) {
	bouncer := testkit.StartPgBouncer(t)
	for i := range 5 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			dbURL := bouncer.URL(testkit.DatabaseURL(t), bouncedMode)
			storetest.MigrateConcurrently(t, open(t, dbURL), open(t, dbURL), open(t, dbURL))
		})
	}
}

// pgx's default mode prepares each statement under a name made from its
// text, on the server connection it got; through the bouncer the next
// client gets that connection and prepares the same name again. The
// first thing every command does, migrating, says what to set.
func TestMigrate_ThroughPgBouncerInTheDefaultQueryModeSaysWhatToSet(t *testing.T) {
	dbURL := testkit.StartPgBouncer(t).URL(testkit.DatabaseURL(t), "cache_statement")
	if _, err := open(t, dbURL).Migrate(); err != nil {
		t.Fatalf("the first migration through the bouncer: %v", err)
	}
	_, err := open(t, dbURL).Migrate()
	if err == nil || !strings.Contains(err.Error(), "default_query_exec_mode=exec") {
		t.Fatalf("a second client's Migrate through the bouncer = %v, want the prepared statement's error and the setting", err)
	}
}
