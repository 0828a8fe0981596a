-- Uploaded files. The blob's key is the id; the user's file name is only
-- data. state: PENDING (URL handed out), UPLOADED, IN_PROGRESS (being
-- checked), APPROVED, REJECTED (bytes deleted), DELETED (by retention).
CREATE TABLE files (
    id             TEXT PRIMARY KEY,
    contact_id     TEXT NOT NULL REFERENCES contacts (id),
    participant_id TEXT NOT NULL,
    name           TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    size           INTEGER NOT NULL,
    state          TEXT NOT NULL,
    sha256         TEXT NOT NULL DEFAULT '',
    serve_type     TEXT NOT NULL DEFAULT '',
    reason         TEXT NOT NULL DEFAULT '',
    item_id        TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX files_contact ON files (contact_id);
CREATE INDEX files_unfinished ON files (state) WHERE state IN ('UPLOADED', 'IN_PROGRESS');

-- UpdateAttachedFilesConfiguration, per instance and scope.
CREATE TABLE attached_files_config (
    instance_id TEXT NOT NULL,
    scope       TEXT NOT NULL,
    max_bytes   INTEGER NOT NULL,
    extensions  TEXT NOT NULL,
    modified_at INTEGER NOT NULL,
    PRIMARY KEY (instance_id, scope)
) WITHOUT ROWID;
