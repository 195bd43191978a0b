-- Revocations, published to services in the policy bundle.

-- Tokens of the subject issued at or before not_before are void. One row
-- per subject: a later revocation moves not_before forward, never back.
CREATE TABLE subject_revocations (
    subject    text PRIMARY KEY, -- a user's uuid, as in the token's sub
    not_before timestamptz NOT NULL
);

-- Single tokens, by jti; expires_at is the token's own expiry, after which
-- the row no longer matters.
CREATE TABLE token_revocations (
    jti        text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

-- A counter of changes to what the bundle is built from: the bundle
-- publisher polls it and recompiles only when it moved. It is a row, not a
-- sequence, so that a new value becomes visible only with the commit of
-- the change it counts, and a snapshot sees it together with that change.
CREATE TABLE bundle_state (
    id      int PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL
);
INSERT INTO bundle_state (id, version) VALUES (1, 1);

CREATE FUNCTION bundle_state_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE bundle_state SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

-- BEFORE, not AFTER: a statement takes the counter's row lock before its
-- own row locks, so two transactions changing the same roles queue on the
-- counter instead of deadlocking with one lock each. Users and logins have
-- no trigger: they do not change the bundle.
CREATE TRIGGER roles_bundle_state BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON roles
    FOR EACH STATEMENT EXECUTE FUNCTION bundle_state_bump();
CREATE TRIGGER permissions_bundle_state BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON permissions
    FOR EACH STATEMENT EXECUTE FUNCTION bundle_state_bump();
CREATE TRIGGER role_permissions_bundle_state BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON role_permissions
    FOR EACH STATEMENT EXECUTE FUNCTION bundle_state_bump();
CREATE TRIGGER subject_revocations_bundle_state BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON subject_revocations
    FOR EACH STATEMENT EXECUTE FUNCTION bundle_state_bump();
CREATE TRIGGER token_revocations_bundle_state BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON token_revocations
    FOR EACH STATEMENT EXECUTE FUNCTION bundle_state_bump();
CREATE TRIGGER signing_keys_bundle_state BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION bundle_state_bump();
