-- Login throttling: failed password checks, and the locks they bring on an
-- account name or a client IP. Shared by every replica on the database.
-- user_key is the username's lookup key, whether or not such a user exists,
-- so a lock reveals nothing about which accounts exist.
CREATE TABLE login_failures (
    id       bigserial PRIMARY KEY,
    user_key text        NOT NULL,
    ip       text        NOT NULL,
    at       timestamptz NOT NULL
);
CREATE INDEX login_failures_user ON login_failures (user_key, at);
CREATE INDEX login_failures_ip ON login_failures (ip, at);
CREATE INDEX login_failures_at ON login_failures (at);

-- The latest lock of each account name ('user') or client IP ('ip').
-- Failures before counted_from (the lock's start) do not count towards the
-- next lock; streak is how many locks followed one another, this one
-- included, and doubles the next lock's length.
CREATE TABLE login_locks (
    kind         text        NOT NULL CHECK (kind IN ('user', 'ip')),
    subject      text        NOT NULL,
    counted_from timestamptz NOT NULL,
    locked_until timestamptz NOT NULL,
    streak       integer     NOT NULL CHECK (streak >= 0),
    PRIMARY KEY (kind, subject)
);
CREATE INDEX login_locks_until ON login_locks (locked_until);
