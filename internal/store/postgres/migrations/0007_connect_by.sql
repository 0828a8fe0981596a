-- A chat ends unless its customer creates a participant connection by
-- connect_by (Unix ms; 0 = it has, or the chat was started before the rule).
ALTER TABLE contacts ADD COLUMN connect_by BIGINT NOT NULL DEFAULT 0;
CREATE INDEX contacts_connect_by ON contacts (connect_by) WHERE connect_by > 0;
