-- Persistent chat, transfers, supervisors and message streaming (SQLite's
-- migrations 0011 to 0014).
ALTER TABLE contacts ADD COLUMN related_contact_id TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN continued_from_id TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN rehydration_type TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN rehydration_announced BOOLEAN NOT NULL DEFAULT false;
-- A source is continued at most once.
CREATE UNIQUE INDEX contacts_continued_from ON contacts (continued_from_id) WHERE continued_from_id <> '';
ALTER TABLE contacts ADD COLUMN transfer_to TEXT NOT NULL DEFAULT '';
-- How many streams of the contact are active, read under the contact's
-- lock with its counters: items of other contacts cost no outbox query.
ALTER TABLE contacts ADD COLUMN active_streams INTEGER NOT NULL DEFAULT 0;

ALTER TABLE participants ADD COLUMN monitor_capabilities TEXT NOT NULL DEFAULT '';
ALTER TABLE participants ADD COLUMN barged BOOLEAN NOT NULL DEFAULT false;

CREATE TABLE streams (
    id           TEXT PRIMARY KEY,
    contact_id   TEXT NOT NULL,
    endpoint_arn TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    stopped_at   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX streams_contact ON streams (contact_id);
-- Deliveries of one contact are queued under its lock, so their ids rise
-- in commit order.
CREATE TABLE stream_outbox (
    id         BIGSERIAL PRIMARY KEY,
    stream_id  TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    item       TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX stream_outbox_contact ON stream_outbox (contact_id);
