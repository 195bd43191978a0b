-- Refresh retries: a spent token remembers its successor, so that a client
-- that lost the answer of a refresh and presents the same token again
-- within IAM_REFRESH_REUSE_GRACE gets that successor back instead of a
-- second branch of the family. successor is the successor's hash;
-- successor_sealed is the successor itself, sealed (AES-256-GCM) under a
-- key derived from the spent token, which is stored nowhere: the database
-- alone cannot open it. NULL on tokens spent before this migration and on
-- current tokens.
ALTER TABLE refresh_tokens ADD COLUMN successor text;
ALTER TABLE refresh_tokens ADD COLUMN successor_sealed bytea;
