package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/consolesession"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/testkit"
)

// The contract suite sees the store through its ports; this looks at the
// rows themselves for the cookie's token.
func TestConsoleSessions_TableHoldsTheHashNeverTheToken(t *testing.T) {
	dbURL := testkit.DatabaseURL(t)
	s := openMigrated(t, dbURL)
	now := time.Now().UTC()
	u := identity.User{ID: uuid.New(), Username: "alice", State: identity.StateActive, CreatedAt: now, UpdatedAt: now}
	if err := identity.CreateUser(t.Context(), s, u, nil, audit.Event{At: now, Actor: audit.CLI, Action: audit.UserCreated}); err != nil {
		t.Fatal(err)
	}
	token, _, err := consolesession.NewService(s, consolesession.DefaultPolicy, time.Now).Start(t.Context(), u.ID, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	var key, row string
	if err := conn.QueryRow(t.Context(), `SELECT token_hash, c::text FROM console_sessions c`).Scan(&key, &row); err != nil {
		t.Fatal(err)
	}
	if key != consolesession.Hash(token) {
		t.Errorf("token_hash = %q, want consolesession.Hash of the token", key)
	}
	if strings.Contains(row, token) {
		t.Errorf("the stored row %s holds the token", row)
	}
}
