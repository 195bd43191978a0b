package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// scanOne scans the one row of a lookup by key into dest; no row is
// notFound.
func scanOne(row pgx.Row, notFound error, dest ...any) error {
	err := row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound
	}
	return err
}

// updated is the outcome of an UPDATE of one row by key: notFound when
// there is no such row.
func updated(tag pgconn.CommandTag, err, notFound error) error {
	if err == nil && tag.RowsAffected() == 0 {
		return notFound
	}
	return err
}
