-- Deadlines are data: participants' idle and auto-disconnect times, and
-- the claims a sweeper holds on due deadlines (Unix ms; 0 = none).
ALTER TABLE participants ADD COLUMN idle BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE participants ADD COLUMN idle_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE participants ADD COLUMN disconnect_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE participants ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX participants_idle_at ON participants (idle_at) WHERE idle_at > 0;
CREATE INDEX participants_disconnect_at ON participants (disconnect_at) WHERE disconnect_at > 0;
-- An attachment check is a job with a lease: the process checking an
-- IN_PROGRESS file holds it until lease_until, after which another claims it.
ALTER TABLE files ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX files_checking ON files (lease_until) WHERE state = 'IN_PROGRESS';
