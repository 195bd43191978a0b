-- The SQLite dialect of migrations/postgres/0009 (see sqlite/0001 for how
-- types map).
ALTER TABLE refresh_tokens ADD COLUMN successor TEXT;
ALTER TABLE refresh_tokens ADD COLUMN successor_sealed BLOB;
