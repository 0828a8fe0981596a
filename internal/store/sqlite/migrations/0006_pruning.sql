-- What the pruner deletes by age (store.Prune), and the uploads never
-- completed (AbandonedFiles), found without scanning their tables.
CREATE INDEX connection_tokens_expiry ON connection_tokens (expires_at);
CREATE INDEX idempotency_created ON idempotency (created_at);
CREATE INDEX items_ephemeral ON items (at) WHERE NOT in_transcript;
CREATE INDEX files_abandoned ON files (created_at) WHERE state IN ('PENDING', 'UPLOADED');
-- Items not in the transcript keep no content (see store.Item).
UPDATE items SET content = '' WHERE NOT in_transcript;
