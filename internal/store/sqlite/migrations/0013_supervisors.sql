-- Supervisors (MonitorContact): what a SUPERVISOR participant may do, and
-- whether it barged in.
ALTER TABLE participants ADD COLUMN monitor_capabilities TEXT NOT NULL DEFAULT '';
ALTER TABLE participants ADD COLUMN barged INTEGER NOT NULL DEFAULT 0;
