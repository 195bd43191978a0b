-- Service accounts: non-human identities that get tokens by the OAuth2
-- client-credentials grant. Like a user row, an account row holds no
-- authority: roles come through service_account_roles.
CREATE TABLE service_accounts (
    id          uuid PRIMARY KEY, -- also the OAuth2 client_id and the token's sub
    name        text        NOT NULL UNIQUE,
    secret_hash text        NOT NULL, -- hmac-sha256$<pepper id>$<mac>, never the secret
    state       text        NOT NULL DEFAULT 'active'
                CHECK (state IN ('active', 'disabled')),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE service_account_roles (
    service_account_id uuid NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE,
    role_name          text NOT NULL REFERENCES roles (name) ON DELETE CASCADE ON UPDATE CASCADE,
    PRIMARY KEY (service_account_id, role_name)
);
CREATE INDEX service_account_roles_role ON service_account_roles (role_name);

-- Secrets the server generates and keeps when none is configured, such as
-- the pepper of client secret hashes (IAM_CLIENT_SECRET_PEPPER unset).
CREATE TABLE server_secrets (
    name       text PRIMARY KEY,
    value      text        NOT NULL,
    created_at timestamptz NOT NULL
);
