package problem

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// databaseUnavailable reports whether err is PostgreSQL being out of
// reach rather than refusing a statement: the connection could not be
// made or was lost (refused, reset, timed out, closed mid-query), or the
// server is shutting down or starting up (SQLSTATE class 08, 57P01-03).
// Such a request is worth retrying once the database is back, so it is
// answered 503, not 500.
func databaseUnavailable(err error) bool {
	var connect *pgconn.ConnectError
	var pg *pgconn.PgError
	var netErr net.Error
	switch {
	case errors.As(err, &pg):
		return strings.HasPrefix(pg.Code, "08") || pg.Code == "57P01" || pg.Code == "57P02" || pg.Code == "57P03"
	case errors.As(err, &connect), errors.As(err, &netErr), pgconn.Timeout(err), pgconn.SafeToRetry(err),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE):
		return true
	}
	// pgx's own words for a connection that died under it.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "failed to deallocate cached statement")
}
