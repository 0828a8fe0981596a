-- Message streaming (StartContactStreaming): a contact's streams, and the
-- durable outbox of what each must still deliver, in order. An outbox row
-- holds its item whole, since items not in the transcript are stored
-- without content and pruned.
CREATE TABLE streams (
    id           TEXT PRIMARY KEY,
    contact_id   TEXT NOT NULL,
    endpoint_arn TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    stopped_at   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX streams_contact ON streams (contact_id);
CREATE TABLE stream_outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id  TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    item       TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX stream_outbox_contact ON stream_outbox (contact_id);
-- How many streams of the contact are active (as on PostgreSQL, whose
-- writer reads it with the contact's lock).
ALTER TABLE contacts ADD COLUMN active_streams INTEGER NOT NULL DEFAULT 0;
