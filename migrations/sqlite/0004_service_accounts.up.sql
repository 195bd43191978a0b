-- The SQLite dialect of migrations/postgres/0004 (see sqlite/0001 for how
-- types map).

-- Service accounts: non-human identities that get tokens by the OAuth2
-- client-credentials grant. Like a user row, an account row holds no
-- authority: roles come through service_account_roles.
CREATE TABLE service_accounts (
    id          TEXT PRIMARY KEY, -- also the OAuth2 client_id and the token's sub
    name        TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL, -- hmac-sha256$<pepper id>$<mac>, never the secret
    state       TEXT NOT NULL DEFAULT 'active'
                CHECK (state IN ('active', 'disabled')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE service_account_roles (
    service_account_id TEXT NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE,
    role_name          TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE ON UPDATE CASCADE,
    PRIMARY KEY (service_account_id, role_name)
);
CREATE INDEX service_account_roles_role ON service_account_roles (role_name);

-- Secrets the server generates and keeps when none is configured, such as
-- the pepper of client secret hashes (IAM_CLIENT_SECRET_PEPPER unset).
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL
);
