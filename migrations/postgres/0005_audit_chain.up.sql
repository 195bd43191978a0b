-- The audit trail becomes a hash chain: each row stores the hash of the
-- row before it and its own (internal/audit ChainHash). Rows written before
-- this migration are hashed, in id order, by the store right after it.
ALTER TABLE audit_events ADD COLUMN prev_hash text, ADD COLUMN hash text;
