package app_test

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/spf13/pflag"

	"github.com/gaia-platform/iam/internal/app"
	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/config"
	"github.com/gaia-platform/iam/internal/testkit"
	"github.com/gaia-platform/iam/migrations"
)

// The wiring of app on each store, through its own API: Open migrates,
// Handler builds a server whose routes reach the store, the keys and the
// bundle, and Close lets the database go. What the routes answer in
// detail is internal/httpapi's tests'.
func TestApp_OpenMigratesHandlerServesAndCloseReleases(t *testing.T) {
	t.Parallel()
	for name, databaseURL := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "iam.db") },
		"postgres": func(t *testing.T) string { return testkit.DatabaseURL(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			wire(t, databaseURL(t))
		})
	}
}

func wire(t *testing.T, databaseURL string) {
	cfg := serveConfig(t, databaseURL, testkit.SigningKeyFile(t))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	a, err := app.Open(ctx, cfg.Database, cfg.Hashing, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}

	// Open migrated: the built-in role a migration creates is there, and
	// the schema is at the newest migration.
	if _, err := a.RBAC.Role(ctx, authz.AdminRole); err != nil {
		t.Fatalf("after Open, role %s: %v", authz.AdminRole, err)
	}
	if v, err := a.Store.Migrate(); err != nil || v != newestMigration(t) {
		t.Fatalf("Migrate after Open = %d, %v; want %d with nothing left to do", v, err, newestMigration(t))
	}

	h, err := a.Handler(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	srv := &testkit.Server{URL: ts.URL}
	for _, path := range []string{"/healthz", "/readyz", "/.well-known/jwks.json"} {
		if r := srv.Do(t, http.MethodGet, path, ""); r.Status != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, r.Status, r.Body)
		}
	}
	srv.Bundle(t, "") // compiled before Handler returned, signed with the JWKS's key

	// A user made through a.Users logs in, and the JWKS verifies the token.
	alice, err := a.Users.Create(ctx, audit.CLI, "alice", "correct horse battery staple", nil)
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwk.Fetch(ctx, ts.URL+"/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseString(srv.Token(t, "alice", "correct horse battery staple"),
		jwt.WithKeySet(set), jwt.WithValidate(true), jwt.WithIssuer(cfg.Issuer))
	if err != nil || tok.Subject() != alice.ID.String() {
		t.Fatalf("alice's token: %v, subject %v; want one the JWKS verifies, of %s", err, tok, alice.ID)
	}

	cancel() // the bundle publisher stops with ctx, before the store closes
	a.Close()
	if err := a.Store.Ping(t.Context()); err == nil {
		t.Error("the store still answers after Close")
	}
}

// serveConfig is the configuration iam serve would have from its flags.
func serveConfig(t *testing.T, databaseURL, keyFile string) config.Config {
	t.Helper()
	set := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	flags := config.NewFlags(set)
	flags.AddServerFlags(set)
	if err := set.Parse([]string{"--database-url", databaseURL, "--signing-key-file", keyFile, "--data-dir", t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	cfg, err := flags.Config()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// newestMigration is the number of the last migration file, NNNN_name.up.sql.
func newestMigration(t *testing.T) uint {
	t.Helper()
	files, err := fs.Glob(migrations.Sqlite, "sqlite/*.up.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v, %v", files, err)
	}
	n, err := strconv.ParseUint(path.Base(files[len(files)-1])[:4], 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return uint(n)
}
