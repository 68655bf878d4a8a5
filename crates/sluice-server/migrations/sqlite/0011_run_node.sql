-- The node that claimed a run, kept after the run ends (the lease owner is let go at the end).
ALTER TABLE runs ADD COLUMN node TEXT;
UPDATE runs SET node = lease_owner WHERE lease_owner IS NOT NULL;
-- Retention removes ended runs oldest first.
CREATE INDEX runs_ended ON runs (ended_at) WHERE ended_at IS NOT NULL;
