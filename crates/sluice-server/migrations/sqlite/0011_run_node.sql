-- The node that claimed a run, kept after the run ends (the lease owner is let go at the end).
ALTER TABLE runs ADD COLUMN node TEXT;
UPDATE runs SET node = lease_owner WHERE lease_owner IS NOT NULL;
-- Retention removes ended runs oldest first.
CREATE INDEX runs_ended ON runs (ended_at) WHERE ended_at IS NOT NULL;
-- A long history must not slow the hot path: partial indexes on what claims, the lease sweep and
-- a start's one-active-run check look for, each written as those queries write their condition
-- (SQLite uses a partial index only when the query names its condition).
CREATE INDEX runs_queued ON runs (id) WHERE state = 'queued';
CREATE INDEX runs_claimed ON runs (lease_expires_at) WHERE state IN ('starting', 'running', 'stopping');
CREATE INDEX runs_active_by_task ON runs (task_id)
    WHERE state IN ('queued', 'starting', 'running', 'stopping');
