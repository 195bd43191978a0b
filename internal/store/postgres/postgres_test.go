package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/store/postgres"
	"github.com/gaia-platform/iam/internal/storetest"
	"github.com/gaia-platform/iam/internal/testkit"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return openMigrated(t, testkit.DatabaseURL(t))
	})
}

// The database's collation must not leak into results: sorted lists end up
// in tokens and bundles that other programs compare byte by byte. The
// official postgres image, for one, defaults to en_US.utf8.
func TestContract_LinguisticCollation(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return openMigrated(t, icuDatabaseURL(t))
	})
}

func TestMigrate_ConcurrentReplicasApplyOnce(t *testing.T) {
	dbURL := testkit.DatabaseURL(t)
	storetest.MigrateConcurrently(t, open(t, dbURL), open(t, dbURL))
}

func TestMigrate_Idempotent(t *testing.T) {
	dbURL := testkit.DatabaseURL(t)
	storetest.MigrateAgain(t, openMigrated(t, dbURL), open(t, dbURL))
}

func TestAuditEvents_AppendOnly(t *testing.T) {
	dbURL := testkit.DatabaseURL(t)
	s := openMigrated(t, dbURL)
	ev := audit.Event{At: time.Now().Truncate(time.Microsecond), Actor: audit.CLI, Action: audit.UserCreated, Target: "user:1"}
	if err := s.AppendAudit(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })

	// The table holds a row, so the row-level trigger has something to fire on.
	for _, sql := range []string{
		`UPDATE audit_events SET actor = 'mallory'`,
		`DELETE FROM audit_events`,
		`TRUNCATE audit_events`,
	} {
		_, err := conn.Exec(t.Context(), sql)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Message != "audit_events is append-only" {
			t.Errorf("%s: %v, want the append-only trigger's error", sql, err)
		}
	}
	evs, err := s.AuditEvents(t.Context(), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Actor != audit.CLI {
		t.Errorf("audit events after tampering = %+v, want the one event unchanged", evs)
	}
}

func TestOpen_UnreachableDatabase(t *testing.T) {
	const password = "s3cret-Pa55word"
	port := closedPort(t)
	for _, dsn := range []string{
		fmt.Sprintf("postgres://iam:%s@127.0.0.1:%d/iam?sslmode=disable&connect_timeout=5", password, port),
		fmt.Sprintf("host=127.0.0.1 port=%d user=iam password=%s dbname=iam sslmode=disable connect_timeout=5", port, password),
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		s, err := postgres.Open(ctx, dsn)
		cancel()
		if err == nil {
			s.Close()
			t.Fatalf("Open of a closed port succeeded")
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("Open error reveals the password: %v", err)
		}
		if !strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("Open error %q does not say which database", err)
		}
	}
}

func TestOpen_InvalidURL(t *testing.T) {
	const password = "s3cret-Pa55word"
	for _, dsn := range []string{
		"postgres://iam:" + password + "@127.0.0.1:notaport/iam",
		"postgres://iam:" + password + "@[::1/iam",
		"postgres://iam:" + password + "@127.0.0.1/iam?sslmode=sometimes",
	} {
		s, err := postgres.Open(t.Context(), dsn)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", dsn)
			continue
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("Open error reveals the password: %v", err)
		}
	}
}

func open(t *testing.T, dbURL string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func openMigrated(t *testing.T, dbURL string) *postgres.Store {
	t.Helper()
	s := open(t, dbURL)
	if _, err := s.Migrate(); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

// icuDatabaseURL returns the URL of a new database, beside a testkit one,
// whose default collation is ICU's English one rather than C.
func icuDatabaseURL(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(testkit.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "gaia_test_icu_" + hex.EncodeToString(suffix)
	_, err = admin.Exec(t.Context(), `CREATE DATABASE `+name+` TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`)
	if code, _ := pgCode(err); code == "0A000" {
		t.Skipf("server cannot create ICU databases: %v", err)
	} else if err != nil {
		t.Fatalf("create ICU database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, u.String())
		if err != nil {
			t.Errorf("drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	icu := *u
	icu.Path = "/" + name
	return icu.String()
}

func pgCode(err error) (string, string) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code, pgErr.Message
	}
	return "", ""
}

// closedPort returns a local TCP port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}
