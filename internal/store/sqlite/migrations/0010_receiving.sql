-- RECEIVING: a server is receiving an upload's bytes (the claim on it).
-- Abandoned uploads include files left RECEIVING by a server that stopped.
DROP INDEX files_abandoned;
CREATE INDEX files_abandoned ON files (created_at) WHERE state IN ('PENDING', 'RECEIVING', 'UPLOADED');
