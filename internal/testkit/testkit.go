// Package testkit is the one home of shared test helpers: a fresh
// PostgreSQL database per test (or, under IAM_TEST_STORE=sqlite, a fresh
// SQLite file for NewIAM's end-to-end tests), a PgBouncer in front of the
// test server, a reusable signing key, the iam command run in-process and
// the calls of its HTTP API that tests of several packages make. Never
// import it from non-test code.
package testkit

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"
)

// EnvDatabaseURL names the variable holding the test server's URL.
const EnvDatabaseURL = "IAM_TEST_DATABASE_URL"

var (
	serverOnce sync.Once
	serverURL  string
	serverErr  error
)

// DatabaseURL returns the URL of a new, empty database, dropped when t
// ends. The server is IAM_TEST_DATABASE_URL's, else a PostgreSQL started
// with dockertest; with neither the test is skipped, and the developer
// told so in one line (announceSkip), except under CI=true where it
// fails, so CI cannot pass without a real database.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	serverURL := testServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		t.Fatalf("connect to test database server: %v", err)
	}
	defer admin.Close(ctx)
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "gaia_test_" + hex.EncodeToString(suffix)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, serverURL)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, _ := url.Parse(serverURL)
	u.Path = "/" + name
	return u.String()
}

// testServer returns the URL of the test server's postgres database,
// skipping or failing t as DatabaseURL says when there is none.
func testServer(t testing.TB) string {
	t.Helper()
	serverOnce.Do(func() { serverURL, serverErr = server() })
	if serverErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no database for this test under CI=true: %v", serverErr)
		}
		announceSkip(serverErr)
		t.Skipf("skipping database test: %v", serverErr)
	}
	return serverURL
}

func server() (string, error) {
	if v := os.Getenv(EnvDatabaseURL); v != "" {
		if _, err := url.Parse(v); err != nil {
			return "", fmt.Errorf("%s is not a URL", EnvDatabaseURL)
		}
		return v, nil
	}
	pool, err := dockertest.NewPool("")
	if err == nil {
		err = pool.Client.Ping()
	}
	if err != nil {
		return "", fmt.Errorf("%s is not set and no Docker engine is reachable", EnvDatabaseURL)
	}
	res, err := pool.RunWithOptions(&dockertest.RunOptions{
		Repository: "postgres", Tag: "15",
		Env: []string{"POSTGRES_HOST_AUTH_METHOD=trust"},
	}, func(hc *docker.HostConfig) { hc.AutoRemove = true })
	if err != nil {
		return "", fmt.Errorf("start PostgreSQL with Docker: %w", err)
	}
	_ = res.Expire(900)
	dsn := fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", res.GetHostPort("5432/tcp"))
	err = pool.Retry(func() error {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			return err
		}
		return conn.Close(context.Background())
	})
	return dsn, err
}

var (
	keyOnce sync.Once
	keyPEM  []byte
)

// SigningKeyFile writes a 2048-bit RSA key, made once per test process, to
// a file in t's temporary directory and returns its path. Generating the
// server's 3072-bit key for every test would dominate the suite's time.
func SigningKeyFile(t testing.TB) string {
	t.Helper()
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	})
	path := filepath.Join(t.TempDir(), "signing-key.pem")
	if err := os.WriteFile(path, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
