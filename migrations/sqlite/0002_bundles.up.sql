-- Revocations, published to services in the policy bundle. The SQLite
-- dialect of migrations/postgres/0002_bundles.up.sql.

-- Tokens of the subject issued at or before not_before are void. One row
-- per subject: a later revocation moves not_before forward, never back.
CREATE TABLE subject_revocations (
    subject    TEXT PRIMARY KEY, -- a user's uuid, as in the token's sub
    not_before TEXT NOT NULL
);

-- Single tokens, by jti; expires_at is the token's own expiry, after which
-- the row no longer matters.
CREATE TABLE token_revocations (
    jti        TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
);

-- A counter of changes to what the bundle is built from: the bundle
-- publisher polls it and recompiles only when it moved. A row, so that a
-- new value commits with the change it counts and a read transaction sees
-- both or neither.
CREATE TABLE bundle_state (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO bundle_state (id, version) VALUES (1, 1);

-- SQLite triggers fire per row, not per statement: the counter moves by
-- the number of rows changed, which is all the publisher needs (it only
-- compares). A statement that changes no row moves nothing. SQLite lets one
-- writer in at a time, so there is no lock order to get right, unlike
-- PostgreSQL's BEFORE triggers. Users and logins have no trigger: they do
-- not change the bundle.
CREATE TRIGGER roles_bundle_insert AFTER INSERT ON roles
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER roles_bundle_update AFTER UPDATE ON roles
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER roles_bundle_delete AFTER DELETE ON roles
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;

CREATE TRIGGER permissions_bundle_insert AFTER INSERT ON permissions
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER permissions_bundle_update AFTER UPDATE ON permissions
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER permissions_bundle_delete AFTER DELETE ON permissions
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;

CREATE TRIGGER role_permissions_bundle_insert AFTER INSERT ON role_permissions
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER role_permissions_bundle_update AFTER UPDATE ON role_permissions
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER role_permissions_bundle_delete AFTER DELETE ON role_permissions
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;

CREATE TRIGGER subject_revocations_bundle_insert AFTER INSERT ON subject_revocations
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER subject_revocations_bundle_update AFTER UPDATE ON subject_revocations
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER subject_revocations_bundle_delete AFTER DELETE ON subject_revocations
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;

CREATE TRIGGER token_revocations_bundle_insert AFTER INSERT ON token_revocations
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER token_revocations_bundle_update AFTER UPDATE ON token_revocations
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER token_revocations_bundle_delete AFTER DELETE ON token_revocations
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;

CREATE TRIGGER signing_keys_bundle_insert AFTER INSERT ON signing_keys
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER signing_keys_bundle_update AFTER UPDATE ON signing_keys
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER signing_keys_bundle_delete AFTER DELETE ON signing_keys
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;
