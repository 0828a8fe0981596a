-- Transfers: a chat put back in the queue for one console agent names it.
ALTER TABLE contacts ADD COLUMN transfer_to TEXT NOT NULL DEFAULT '';
