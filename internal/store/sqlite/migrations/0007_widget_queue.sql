-- Attributes a browser supplied through the widget: kept apart from those
-- set through the Connect API, so that agents never take one for the other.
ALTER TABLE contacts ADD COLUMN customer_attributes TEXT NOT NULL DEFAULT '';
-- The queue in the order the console pages through it; the widget's ceiling
-- counts it too.
CREATE INDEX contacts_queued ON contacts (created_at, id) WHERE state = 'QUEUED';
