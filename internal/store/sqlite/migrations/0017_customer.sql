-- StartChatContact's CustomerId and SegmentAttributes (JSON, '' for
-- none), which DescribeContact returns. Existing contacts have neither.
ALTER TABLE contacts ADD COLUMN customer_id TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN segment_attributes TEXT NOT NULL DEFAULT '';
