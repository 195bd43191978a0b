-- Console sessions. The SQLite dialect of
-- migrations/postgres/0010_console_sessions.up.sql (see sqlite/0001 for
-- how types map).
CREATE TABLE console_sessions (
    token_hash   TEXT PRIMARY KEY, -- consolesession.Hash of the token
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    ip           TEXT NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
-- One index per side of the stale delete's OR (SQLite's OR-by-union plan).
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
CREATE INDEX console_sessions_last_seen ON console_sessions (last_seen_at);
