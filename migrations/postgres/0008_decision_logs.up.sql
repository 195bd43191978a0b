-- Decision logs: the decisions services' OPAs upload to POST /logs. Not
-- part of the audit hash chain (an upload is audited as one event); rows
-- are deleted once older than IAM_DECISION_LOG_RETENTION. No row holds a
-- usable token: input.token is dropped before the insert, its subject and
-- id kept beside it.
CREATE TABLE decision_logs (
    id           bigserial PRIMARY KEY,
    client_id    uuid        NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE, -- the uploader
    decision_id  text        NOT NULL,
    path         text        NOT NULL DEFAULT '',
    decided_at   timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    allowed      boolean, -- NULL: the result says neither
    reasons      jsonb       NOT NULL DEFAULT '[]',
    subject      text        NOT NULL DEFAULT '', -- sub of input.token, as the token claims it
    token_id     text        NOT NULL DEFAULT '', -- jti of input.token
    revision     text        NOT NULL DEFAULT '', -- bundle revision that decided
    labels       jsonb       NOT NULL DEFAULT '{}',
    input        jsonb, -- redacted
    result       jsonb,
    error        jsonb,
    requested_by text        NOT NULL DEFAULT '',
    UNIQUE (client_id, decision_id)
);
CREATE INDEX decision_logs_received_at ON decision_logs (received_at);
CREATE INDEX decision_logs_decided_at ON decision_logs (decided_at);
CREATE INDEX decision_logs_subject ON decision_logs (subject, id);
CREATE INDEX decision_logs_decision_id ON decision_logs (decision_id);

-- Uploading is a permission of its own, held by a built-in role that a
-- service account (an OPA's credentials) is given; iam-admin, a people's
-- role, does not hold it.
INSERT INTO permissions (code, description, created_at) VALUES
    ('iam.decisions.write', 'Upload OPA decision logs to POST /logs', now());
INSERT INTO roles (name, description, builtin, created_at) VALUES
    ('iam-decision-logger', 'Uploads OPA decision logs', true, now());
INSERT INTO role_permissions (role_name, permission_code) VALUES
    ('iam-decision-logger', 'iam.decisions.write');
