-- Participant timers set by UpdateParticipantRoleConfig while an agent or a
-- custom bot was with the customer: stored, not applied until the next one
-- joins (JSON as timers; '' = none pending).
ALTER TABLE contacts ADD COLUMN pending_timers TEXT NOT NULL DEFAULT '';
