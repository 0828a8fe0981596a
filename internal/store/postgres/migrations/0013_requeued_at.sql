-- When a transfer last put a contact back in the queue, for DescribeContact's
-- QueueInfo.EnqueueTimestamp (Unix ms; 0 = never: it is the contact's start).
ALTER TABLE contacts ADD COLUMN requeued_at BIGINT NOT NULL DEFAULT 0;
