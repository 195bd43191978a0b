-- Sessions: refresh-token families. The SQLite dialect of
-- migrations/postgres/0003_sessions.up.sql.
CREATE TABLE refresh_families (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX refresh_families_user ON refresh_families (user_id);

CREATE TABLE refresh_tokens (
    hash       TEXT PRIMARY KEY, -- hex SHA-256 of the token
    family_id  TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    spent_at   TEXT -- NULL: not yet exchanged
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
