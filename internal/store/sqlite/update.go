package sqlite

import (
	"context"
	"database/sql"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/serviceaccount"
)

// rowTable names a table whose rows updateRow changes by id, and the error
// for an id it does not hold.
type rowTable struct {
	name     string
	notFound error
}

var (
	usersTable    = rowTable{"users", identity.ErrUserNotFound}
	accountsTable = rowTable{"service_accounts", serviceaccount.ErrNotFound}
)

// updateRow runs one UPDATE of the row id in table and, when it changed the
// row, runs then (when not nil) and records ev. A missing row is the
// table's notFound error.
func (s *Store) updateRow(ctx context.Context, table rowTable, id uuid.UUID, ev audit.Event, then func(*sql.Tx) error, query string, args ...any) (bool, error) {
	changed := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		one, err := affectedOne(tx.ExecContext(ctx, query, args...))
		if err != nil {
			return err
		}
		if !one {
			found, err := exists(ctx, tx, `SELECT EXISTS (SELECT 1 FROM `+table.name+` WHERE id = ?)`, id.String())
			if err == nil && !found {
				err = table.notFound
			}
			return err
		}
		changed = true
		if then != nil {
			if err := then(tx); err != nil {
				return err
			}
		}
		return insertAudit(ctx, tx, ev)
	})
	return changed, err
}
