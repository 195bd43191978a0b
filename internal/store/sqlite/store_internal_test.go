package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// Every connection of both pools gets the settings of the DSN, not just
// the first one: PRAGMAs such as foreign_keys are per connection.
func TestOpen_EveryConnectionIsConfigured(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "iam.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, db := range map[string]*sql.DB{"writer": s.write, "reader": s.read} {
		conns := make([]*sql.Conn, db.Stats().MaxOpenConnections)
		for i := range conns {
			c, err := db.Conn(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			conns[i] = c
			for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "5000"} {
				var got string
				if err := c.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("%s connection %d: %s = %s, want %s", name, i, pragma, got, want)
				}
			}
		}
		for _, c := range conns {
			c.Close()
		}
	}
}

func TestTimestamps_FixedWidthUTC(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"2025-03-14T15:09:26.535897123+05:00", "2025-03-14T10:09:26.535897Z"},
		{"2025-03-14T15:09:26Z", "2025-03-14T15:09:26.000000Z"},
	} {
		in, err := time.Parse(time.RFC3339Nano, tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := ts(in); got != tc.want {
			t.Errorf("ts(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
