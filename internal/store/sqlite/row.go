package sqlite

import (
	"database/sql"
	"errors"
)

// scanner is a row or rows.
type scanner interface{ Scan(dest ...any) error }

// scanOne scans the one row of a lookup by key into dest; no row is
// notFound.
func scanOne(row scanner, notFound error, dest ...any) error {
	err := row.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound
	}
	return err
}

// updated is the outcome of an UPDATE of one row by key: notFound when
// there is no such row.
func updated(res sql.Result, err, notFound error) error {
	one, err := affectedOne(res, err)
	if err == nil && !one {
		return notFound
	}
	return err
}

// affectedOne reports whether a statement changed exactly one row.
func affectedOne(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// affectedAny reports whether a statement changed a row.
func affectedAny(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
