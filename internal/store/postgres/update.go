package postgres

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

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
func (s *Store) updateRow(ctx context.Context, table rowTable, id uuid.UUID, ev audit.Event, then func(pgx.Tx) error, sql string, args ...any) (bool, error) {
	changed := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+table.name+` WHERE id = $1)`, id).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return table.notFound
			}
			return nil
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
