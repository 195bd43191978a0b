-- The SQLite dialect of migrations/postgres/0006 (see sqlite/0001 for how
-- types map). SQLite cannot add a NOT NULL column without a default, so
-- the table is rebuilt; its bundle_state triggers go with the old table and
-- are made again.
CREATE TABLE signing_keys_new (
    kid             TEXT PRIMARY KEY, -- RFC 7638 thumbprint of the public key
    private_key_pem TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    activates_at    TEXT NOT NULL,
    retire_after    TEXT
);
INSERT INTO signing_keys_new (kid, private_key_pem, created_at, activates_at)
    SELECT kid, private_key_pem, created_at, created_at FROM signing_keys;
DROP TABLE signing_keys;
ALTER TABLE signing_keys_new RENAME TO signing_keys;

CREATE TRIGGER signing_keys_bundle_insert AFTER INSERT ON signing_keys
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER signing_keys_bundle_update AFTER UPDATE ON signing_keys
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER signing_keys_bundle_delete AFTER DELETE ON signing_keys
BEGIN UPDATE bundle_state SET version = version + 1 WHERE id = 1; END;
