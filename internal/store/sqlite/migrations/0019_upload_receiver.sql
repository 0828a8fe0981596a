-- The PUT receiving a file's bytes (RECEIVING) names itself in receiver and
-- holds the file until lease_until, as on PostgreSQL (where nodes that die
-- mid-upload leave it to others): a PUT whose claim was taken over
-- records nothing.
ALTER TABLE files ADD COLUMN receiver TEXT NOT NULL DEFAULT '';
