-- Erasure: idempotency records name the contact they concern, so that
-- erasing it finds them; a tombstone records when and why a contact was
-- erased.
ALTER TABLE idempotency ADD COLUMN contact_id TEXT NOT NULL DEFAULT '';
CREATE INDEX idempotency_contact ON idempotency (contact_id) WHERE contact_id != '';
CREATE TABLE erasures (
    contact_id TEXT PRIMARY KEY,
    erased_at  INTEGER NOT NULL,
    reason     TEXT NOT NULL
);
