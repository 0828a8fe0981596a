-- The console: an agent's status (an AWAY agent is offered no chats), and
-- canned responses, per instance, each under a shortcut.
ALTER TABLE agents ADD COLUMN status TEXT NOT NULL DEFAULT ''; -- '' is AVAILABLE
CREATE TABLE canned_responses (
    id          TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    shortcut    TEXT NOT NULL,
    text        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (instance_id, shortcut)
);
