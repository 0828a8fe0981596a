-- The PUT receiving a file's bytes (RECEIVING) names itself in receiver and
-- holds the file until lease_until, which its node renews while it
-- receives: another node may take over an upload whose node died (its
-- lease ran out), never one a live node is receiving, and a PUT whose
-- claim was taken over records nothing.
ALTER TABLE files ADD COLUMN receiver TEXT NOT NULL DEFAULT '';
