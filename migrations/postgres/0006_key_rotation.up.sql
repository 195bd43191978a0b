-- Signing key rotation (iam keys rotate): a key signs new tokens from
-- activates_at until a newer key activates, and is published (JWKS and
-- bundle) until retire_after, when every token it signed has expired. A key
-- no newer key has replaced has no retire_after. The key a database already
-- holds has signed since it was created.
ALTER TABLE signing_keys ADD COLUMN activates_at timestamptz, ADD COLUMN retire_after timestamptz;
UPDATE signing_keys SET activates_at = created_at;
ALTER TABLE signing_keys ALTER COLUMN activates_at SET NOT NULL;
