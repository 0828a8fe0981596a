-- Idle and auto-disconnect timers set by UpdateParticipantRoleConfig, as JSON
-- keyed by participant role.
ALTER TABLE contacts ADD COLUMN timers TEXT NOT NULL DEFAULT '';
