-- Console sessions: the admin console's browser sign-ins. A row is keyed
-- by the hash of the cookie's session token (consolesession.Hash), never
-- the token, so the table alone signs nobody in. A session is over when
-- it has been idle too long (last_seen_at) or has reached expires_at,
-- however active; ip is where it was started.
CREATE TABLE console_sessions (
    token_hash   text PRIMARY KEY, -- consolesession.Hash of the token
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    ip           text        NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
-- A stale session is expired or idle: the delete of stale sessions ORs
-- the two, so each side has an index of its own (a BitmapOr).
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
CREATE INDEX console_sessions_last_seen ON console_sessions (last_seen_at);
