-- The SQLite dialect of migrations/postgres/0008 (see sqlite/0001 for how
-- types map).
CREATE TABLE decision_logs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id    TEXT NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE,
    decision_id  TEXT NOT NULL,
    path         TEXT NOT NULL DEFAULT '',
    decided_at   TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    allowed      INTEGER CHECK (allowed IN (0, 1)),
    reasons      TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(reasons)),
    subject      TEXT NOT NULL DEFAULT '',
    token_id     TEXT NOT NULL DEFAULT '',
    revision     TEXT NOT NULL DEFAULT '',
    labels       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(labels)),
    input        TEXT CHECK (input IS NULL OR json_valid(input)),
    result       TEXT CHECK (result IS NULL OR json_valid(result)),
    error        TEXT CHECK (error IS NULL OR json_valid(error)),
    requested_by TEXT NOT NULL DEFAULT '',
    UNIQUE (client_id, decision_id)
);
CREATE INDEX decision_logs_received_at ON decision_logs (received_at);
CREATE INDEX decision_logs_decided_at ON decision_logs (decided_at);
CREATE INDEX decision_logs_subject ON decision_logs (subject, id);
CREATE INDEX decision_logs_decision_id ON decision_logs (decision_id);

INSERT INTO permissions (code, description, created_at) VALUES
    ('iam.decisions.write', 'Upload OPA decision logs to POST /logs', strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'));
INSERT INTO roles (name, name_key, description, builtin, created_at) VALUES
    ('iam-decision-logger', 'iam-decision-logger', 'Uploads OPA decision logs', 1, strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'));
INSERT INTO role_permissions (role_name, permission_code) VALUES
    ('iam-decision-logger', 'iam.decisions.write');
