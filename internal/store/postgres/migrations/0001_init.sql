-- Parley's schema on PostgreSQL: the same tables as on SQLite (after its
-- migration 0006). Times are Unix milliseconds, 0 meaning "not yet", so that
-- both backends store the same values and `parley migrate` copies them as
-- they are.
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
    created_at         BIGINT NOT NULL,
    connected_at       BIGINT NOT NULL DEFAULT 0,
    ended_at           BIGINT NOT NULL DEFAULT 0,
    deadline           BIGINT NOT NULL,
    disconnect_reason  TEXT NOT NULL DEFAULT '',
    timers             TEXT NOT NULL DEFAULT '',
    -- What a browser supplied through the widget, kept apart from
    -- attributes set through the Connect API.
    customer_attributes TEXT NOT NULL DEFAULT '',
    -- The chat's newest item: its seq and time. Items are numbered under
    -- this row's lock, in the committing transaction.
    last_seq           BIGINT NOT NULL DEFAULT 0,
    last_at            BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX contacts_active ON contacts (deadline) WHERE state <> 'ENDED';
CREATE INDEX contacts_queued ON contacts (created_at, id) WHERE state = 'QUEUED';

CREATE TABLE participants (
    id           TEXT PRIMARY KEY,
    contact_id   TEXT NOT NULL REFERENCES contacts (id),
    role         TEXT NOT NULL,
    display_name TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    state        TEXT NOT NULL,
    connected    BOOLEAN NOT NULL DEFAULT false,
    joined_at    BIGINT NOT NULL,
    left_at      BIGINT NOT NULL DEFAULT 0,
    agent_id     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX participants_contact ON participants (contact_id);
CREATE INDEX participants_agent ON participants (agent_id) WHERE agent_id <> '';

CREATE TABLE connection_tokens (
    hash           TEXT PRIMARY KEY,
    participant_id TEXT NOT NULL REFERENCES participants (id),
    expires_at     BIGINT NOT NULL
);
CREATE INDEX connection_tokens_expiry ON connection_tokens (expires_at);

CREATE TABLE items (
    contact_id     TEXT NOT NULL REFERENCES contacts (id),
    seq            BIGINT NOT NULL,
    id             TEXT NOT NULL UNIQUE,
    participant_id TEXT NOT NULL,
    client_token   TEXT NOT NULL,
    type           TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    content        TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL,
    at             BIGINT NOT NULL,
    in_transcript  BOOLEAN NOT NULL,
    attachments    TEXT NOT NULL DEFAULT '',
    receipts       TEXT NOT NULL DEFAULT '',
    message_id     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (contact_id, seq)
);
CREATE UNIQUE INDEX items_client_token ON items (participant_id, client_token) WHERE client_token <> '';
CREATE INDEX items_ephemeral ON items (at) WHERE NOT in_transcript;

CREATE TABLE receipts (
    message_id   TEXT NOT NULL,
    recipient_id TEXT NOT NULL,
    contact_id   TEXT NOT NULL,
    delivered_at BIGINT NOT NULL DEFAULT 0,
    read_at      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (message_id, recipient_id)
);

CREATE TABLE idempotency (
    scope        TEXT NOT NULL,
    client_token TEXT NOT NULL,
    response     BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    contact_id   TEXT NOT NULL DEFAULT '', -- what erasure finds it by
    PRIMARY KEY (scope, client_token)
);
CREATE INDEX idempotency_created ON idempotency (created_at);
CREATE INDEX idempotency_contact ON idempotency (contact_id) WHERE contact_id <> '';

-- Erased contacts: when and why.
CREATE TABLE erasures (
    contact_id TEXT PRIMARY KEY,
    erased_at  BIGINT NOT NULL,
    reason     TEXT NOT NULL
);

CREATE TABLE files (
    id             TEXT PRIMARY KEY,
    contact_id     TEXT NOT NULL REFERENCES contacts (id),
    participant_id TEXT NOT NULL,
    name           TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    size           BIGINT NOT NULL,
    state          TEXT NOT NULL,
    sha256         TEXT NOT NULL DEFAULT '',
    serve_type     TEXT NOT NULL DEFAULT '',
    reason         TEXT NOT NULL DEFAULT '',
    item_id        TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX files_contact ON files (contact_id);
CREATE INDEX files_unfinished ON files (state) WHERE state IN ('UPLOADED', 'IN_PROGRESS');
CREATE INDEX files_abandoned ON files (created_at) WHERE state IN ('PENDING', 'RECEIVING', 'UPLOADED');

CREATE TABLE attached_files_config (
    instance_id TEXT NOT NULL,
    scope       TEXT NOT NULL,
    max_bytes   BIGINT NOT NULL,
    extensions  TEXT NOT NULL,
    modified_at BIGINT NOT NULL,
    PRIMARY KEY (instance_id, scope)
);

CREATE TABLE agents (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
