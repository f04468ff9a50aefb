-- Fencing for readers that run as one leader among standbys (the relay, docs/adr/0016): the term of the leader that
-- may move this checkpoint. A new leader increments it when it takes office; a save that names an older term moves
-- nothing (eventledger_runtime.eventlog: take_office, save_checkpoint(..., term=...)).
ALTER TABLE log_checkpoints ADD COLUMN IF NOT EXISTS term bigint NOT NULL DEFAULT 0;
