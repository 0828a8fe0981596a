-- The live nodes' renewals delete the expired socket leases (those of a
-- node that died): found by index among a cluster's live ones.
CREATE INDEX IF NOT EXISTS parley_sockets_expires_at ON parley_sockets (expires_at);
