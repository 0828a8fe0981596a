-- Items are identified by (contact_id, seq): seq counts a chat's items from
-- 1, gap-free, assigned under the chat's row in the committing transaction
-- (contacts.last_seq), so that it is commit order on any backend and with
-- any number of writers. last_at is the chat's newest item time: item times
-- never decrease within a chat.
ALTER TABLE contacts ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN last_at INTEGER NOT NULL DEFAULT 0;

CREATE TABLE items_new (
    contact_id     TEXT NOT NULL REFERENCES contacts (id),
    seq            INTEGER NOT NULL,
    id             TEXT NOT NULL UNIQUE,
    participant_id TEXT NOT NULL,
    client_token   TEXT NOT NULL,
    type           TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    content        TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL,
    at             INTEGER NOT NULL,
    in_transcript  INTEGER NOT NULL,
    attachments    TEXT NOT NULL DEFAULT '',
    receipts       TEXT NOT NULL DEFAULT '',
    message_id     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (contact_id, seq)
);
INSERT INTO items_new (contact_id, seq, id, participant_id, client_token, type, content_type, content, display_name,
    role, at, in_transcript, attachments, receipts, message_id)
SELECT contact_id, ROW_NUMBER() OVER (PARTITION BY contact_id ORDER BY seq), id, participant_id, client_token, type,
    content_type, content, display_name, role, at, in_transcript, attachments, receipts, message_id
FROM items;
DROP TABLE items;
ALTER TABLE items_new RENAME TO items;
CREATE UNIQUE INDEX items_client_token ON items (participant_id, client_token) WHERE client_token != '';
CREATE INDEX items_ephemeral ON items (at) WHERE NOT in_transcript;
-- Transcript pages use the primary key: ephemeral items between transcript
-- items are skipped, which costs less than a second index on every write.

UPDATE contacts SET
    last_seq = COALESCE((SELECT MAX(seq) FROM items WHERE contact_id = contacts.id), 0),
    last_at = COALESCE((SELECT MAX(at) FROM items WHERE contact_id = contacts.id), 0);
