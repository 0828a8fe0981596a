-- Opening a websocket in a cluster counts and clears its participant's
-- leases (AcquireSocket): by index, not a scan of every socket's lease.
CREATE INDEX IF NOT EXISTS parley_sockets_participant ON parley_sockets (participant_id);
