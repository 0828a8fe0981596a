-- The cluster's own tables, not chat data. Before this migration the first
-- node created them at start (IF NOT EXISTS keeps such databases working);
-- here they are made under the migrations' advisory lock, so that nodes
-- starting at once cannot race on the CREATE.

-- The deployment's identity (instance id, Connect keys, signing and
-- sealing keys), stored by the first node to start: every node shares it.
CREATE TABLE IF NOT EXISTS parley_identity (
    id  integer PRIMARY KEY CHECK (id = 1),
    doc bytea NOT NULL
);

-- The websockets open on every node, each a lease that its node renews
-- while the socket lives: a node that dies leaves leases that expire.
CREATE TABLE IF NOT EXISTS parley_sockets (
    id             text PRIMARY KEY,
    participant_id text NOT NULL,
    node           text NOT NULL,
    expires_at     timestamptz NOT NULL
);
