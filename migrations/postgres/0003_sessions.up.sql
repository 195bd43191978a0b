-- Sessions: refresh-token families (rotation chains). A login opens a
-- family; each refresh spends its current token and adds the successor.
-- Tokens are stored only as hex SHA-256 hashes.
CREATE TABLE refresh_families (
    id           uuid PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX refresh_families_user ON refresh_families (user_id);

CREATE TABLE refresh_tokens (
    hash       text PRIMARY KEY, -- hex SHA-256 of the token
    family_id  uuid        NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    spent_at   timestamptz -- NULL: not yet exchanged
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
