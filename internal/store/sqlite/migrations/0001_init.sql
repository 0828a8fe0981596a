-- Times are Unix milliseconds; 0 means "not yet".
CREATE TABLE contacts (
    id                 TEXT PRIMARY KEY,
    instance_id        TEXT NOT NULL,
    initial_contact_id TEXT NOT NULL,
    flow_id            TEXT NOT NULL,
    queue_id           TEXT NOT NULL,
    state              TEXT NOT NULL,
    attributes         TEXT NOT NULL,
    content_types      TEXT NOT NULL,
    agent_id           TEXT NOT NULL DEFAULT '',
    created_at         INTEGER NOT NULL,
    connected_at       INTEGER NOT NULL DEFAULT 0,
    ended_at           INTEGER NOT NULL DEFAULT 0,
    deadline           INTEGER NOT NULL,
    disconnect_reason  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX contacts_active ON contacts (deadline) WHERE state != 'ENDED';

CREATE TABLE participants (
    id           TEXT PRIMARY KEY,
    contact_id   TEXT NOT NULL REFERENCES contacts (id),
    role         TEXT NOT NULL,
    display_name TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    state        TEXT NOT NULL,
    connected    INTEGER NOT NULL DEFAULT 0,
    joined_at    INTEGER NOT NULL,
    left_at      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX participants_contact ON participants (contact_id);

CREATE TABLE connection_tokens (
    hash           TEXT PRIMARY KEY,
    participant_id TEXT NOT NULL REFERENCES participants (id),
    expires_at     INTEGER NOT NULL
) WITHOUT ROWID;

-- seq is the commit order, assigned by the single writer.
CREATE TABLE items (
    seq            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    contact_id     TEXT NOT NULL REFERENCES contacts (id),
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
    message_id     TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX items_client_token ON items (participant_id, client_token) WHERE client_token != '';
CREATE INDEX items_transcript ON items (contact_id, seq) WHERE in_transcript;
CREATE INDEX items_transcript_time ON items (contact_id, at) WHERE in_transcript;

CREATE TABLE receipts (
    message_id   TEXT NOT NULL,
    recipient_id TEXT NOT NULL,
    contact_id   TEXT NOT NULL,
    delivered_at INTEGER NOT NULL DEFAULT 0,
    read_at      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (message_id, recipient_id)
) WITHOUT ROWID;

CREATE TABLE idempotency (
    scope        TEXT NOT NULL,
    client_token TEXT NOT NULL,
    response     BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (scope, client_token)
) WITHOUT ROWID;
