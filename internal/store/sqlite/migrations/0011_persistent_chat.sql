-- Persistent chat: the contact a chat relates to or continues, how it was
-- rehydrated, and whether its chat.rehydrated event went out. Connect lets
-- a source contact be continued only once, hence the unique index.
ALTER TABLE contacts ADD COLUMN related_contact_id TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN continued_from_id TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN rehydration_type TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN rehydration_announced INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX contacts_continued_from ON contacts (continued_from_id) WHERE continued_from_id != '';
