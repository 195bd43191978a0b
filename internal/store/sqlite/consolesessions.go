package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/consolesession"
)

// InsertConsoleSession stores s under hash.
func (s *Store) InsertConsoleSession(ctx context.Context, hash string, cs consolesession.Session) error {
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO console_sessions (token_hash, user_id, created_at, last_seen_at, expires_at, ip)
		VALUES (?, ?, ?, ?, ?, ?)`,
		hash, cs.UserID.String(), ts(cs.CreatedAt), ts(cs.LastSeenAt), ts(cs.ExpiresAt), cs.IP)
	return err
}

// ConsoleSession returns the session stored under hash, or
// consolesession.ErrNoSession.
func (s *Store) ConsoleSession(ctx context.Context, hash string) (consolesession.Session, error) {
	var cs consolesession.Session
	err := scanOne(s.read.QueryRowContext(ctx, `
		SELECT user_id, created_at, last_seen_at, expires_at, ip FROM console_sessions WHERE token_hash = ?`, hash),
		consolesession.ErrNoSession, &cs.UserID, timeCol{&cs.CreatedAt}, timeCol{&cs.LastSeenAt}, timeCol{&cs.ExpiresAt}, &cs.IP)
	return cs, err
}

// TouchConsoleSession sets the last_seen of the session under hash.
func (s *Store) TouchConsoleSession(ctx context.Context, hash string, at time.Time) error {
	_, err := s.write.ExecContext(ctx, `UPDATE console_sessions SET last_seen_at = ? WHERE token_hash = ?`, ts(at), hash)
	return err
}

// DeleteConsoleSession deletes the session under hash, if any.
func (s *Store) DeleteConsoleSession(ctx context.Context, hash string) error {
	_, err := s.write.ExecContext(ctx, `DELETE FROM console_sessions WHERE token_hash = ?`, hash)
	return err
}

// DeleteStaleConsoleSessions deletes every session that expires before
// expiredBefore or was last seen before idleBefore.
func (s *Store) DeleteStaleConsoleSessions(ctx context.Context, expiredBefore, idleBefore time.Time) error {
	_, err := s.write.ExecContext(ctx, `
		DELETE FROM console_sessions WHERE expires_at < ? OR last_seen_at < ?`, ts(expiredBefore), ts(idleBefore))
	return err
}

// endConsoleSessions deletes the user's console sessions, in tx: a user
// leaving the active state or getting a new password is signed out.
func endConsoleSessions(ctx context.Context, tx *sql.Tx, user uuid.UUID) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE user_id = ?`, user.String())
	return err
}
