-- AbsoluteTime rises with seq (the writer assigns both), so a transcript's
-- start time is found on the (contact_id, seq) index; a second index cost
-- a write for every item.
DROP INDEX items_transcript_time;
