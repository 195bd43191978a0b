-- Login throttling. The SQLite dialect of
-- migrations/postgres/0007_login_throttling.up.sql.
CREATE TABLE login_failures (
    id       INTEGER PRIMARY KEY,
    user_key TEXT NOT NULL,
    ip       TEXT NOT NULL,
    at       TEXT NOT NULL
);
CREATE INDEX login_failures_user ON login_failures (user_key, at);
CREATE INDEX login_failures_ip ON login_failures (ip, at);
CREATE INDEX login_failures_at ON login_failures (at);

CREATE TABLE login_locks (
    kind         TEXT    NOT NULL CHECK (kind IN ('user', 'ip')),
    subject      TEXT    NOT NULL,
    counted_from TEXT    NOT NULL,
    locked_until TEXT    NOT NULL,
    streak       INTEGER NOT NULL CHECK (streak >= 0),
    PRIMARY KEY (kind, subject)
);
CREATE INDEX login_locks_until ON login_locks (locked_until);
