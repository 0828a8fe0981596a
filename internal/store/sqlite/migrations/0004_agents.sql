-- Agents who sign in to the console. The key is stored only as a hash.
CREATE TABLE agents (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
-- Which agent a participant is, for AGENT participants joined from the console.
ALTER TABLE participants ADD COLUMN agent_id TEXT NOT NULL DEFAULT '';
CREATE INDEX participants_agent ON participants (agent_id) WHERE agent_id != '';
