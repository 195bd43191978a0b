package sqlite_test

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/consolesession"
	"github.com/gaia-platform/iam/internal/identity"
)

// The contract suite sees the store through its ports; this looks at the
// rows themselves for the cookie's token.
func TestConsoleSessions_TableHoldsTheHashNeverTheToken(t *testing.T) {
	path := dbPath(t)
	s := openMigrated(t, path)
	now := time.Now().UTC()
	u := identity.User{ID: uuid.New(), Username: "alice", State: identity.StateActive, CreatedAt: now, UpdatedAt: now}
	if err := identity.CreateUser(t.Context(), s, u, nil, audit.Event{At: now, Actor: audit.CLI, Action: audit.UserCreated}); err != nil {
		t.Fatal(err)
	}
	token, _, err := consolesession.NewService(s, consolesession.DefaultPolicy, time.Now).Start(t.Context(), u.ID, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var key, row string
	if err := db.QueryRowContext(t.Context(), `
		SELECT token_hash, concat_ws(' ', token_hash, user_id, created_at, last_seen_at, expires_at, ip)
		FROM console_sessions`).Scan(&key, &row); err != nil {
		t.Fatal(err)
	}
	if key != consolesession.Hash(token) {
		t.Errorf("token_hash = %q, want consolesession.Hash of the token", key)
	}
	if strings.Contains(row, token) {
		t.Errorf("the stored row %s holds the token", row)
	}
}
