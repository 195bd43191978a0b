package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gaia-platform/iam/internal/consolesession"
)

// InsertConsoleSession stores s under hash.
func (s *Store) InsertConsoleSession(ctx context.Context, hash string, cs consolesession.Session) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO console_sessions (token_hash, user_id, created_at, last_seen_at, expires_at, ip)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		hash, cs.UserID, cs.CreatedAt, cs.LastSeenAt, cs.ExpiresAt, cs.IP)
	return err
}

// ConsoleSession returns the session stored under hash, or
// consolesession.ErrNoSession.
func (s *Store) ConsoleSession(ctx context.Context, hash string) (consolesession.Session, error) {
	var cs consolesession.Session
	err := scanOne(s.pool.QueryRow(ctx, `
		SELECT user_id, created_at, last_seen_at, expires_at, ip FROM console_sessions WHERE token_hash = $1`, hash),
		consolesession.ErrNoSession, &cs.UserID, &cs.CreatedAt, &cs.LastSeenAt, &cs.ExpiresAt, &cs.IP)
	return cs, err
}

// TouchConsoleSession sets the last_seen of the session under hash.
func (s *Store) TouchConsoleSession(ctx context.Context, hash string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE console_sessions SET last_seen_at = $2 WHERE token_hash = $1`, hash, at)
	return err
}

// DeleteConsoleSession deletes the session under hash, if any.
func (s *Store) DeleteConsoleSession(ctx context.Context, hash string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM console_sessions WHERE token_hash = $1`, hash)
	return err
}

// DeleteStaleConsoleSessions deletes every session that expires before
// expiredBefore or was last seen before idleBefore.
func (s *Store) DeleteStaleConsoleSessions(ctx context.Context, expiredBefore, idleBefore time.Time) error {
	_, err := s.pool.Exec(ctx, `
		DELETE FROM console_sessions WHERE expires_at < $1 OR last_seen_at < $2`, expiredBefore, idleBefore)
	return err
}

// endConsoleSessions deletes the user's console sessions, in tx: a user
// leaving the active state or getting a new password is signed out.
func endConsoleSessions(ctx context.Context, tx pgx.Tx, user uuid.UUID) error {
	_, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE user_id = $1`, user)
	return err
}
