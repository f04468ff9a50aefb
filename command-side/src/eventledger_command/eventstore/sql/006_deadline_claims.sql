-- Each due deadline handled once across command-service replicas: an expiry worker claims due rows (FOR UPDATE SKIP
-- LOCKED) by setting claimed_until; others skip them until then. The transfer's own append deletes the row.
ALTER TABLE transfer_deadlines ADD COLUMN IF NOT EXISTS claimed_until timestamptz;
