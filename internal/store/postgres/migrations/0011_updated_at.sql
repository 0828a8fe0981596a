-- When a contact last changed other than by starting, connecting or ending
-- (an attribute update), for DescribeContact's LastUpdateTimestamp (Unix
-- ms; 0 = it has not).
ALTER TABLE contacts ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
