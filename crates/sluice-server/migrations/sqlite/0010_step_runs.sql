-- A taskflow step's task and its own run, so that status answers can show each step's type and
-- run id (and a nested taskflow's steps can be walked). NULL for other children (a replication's
-- tables) and for steps not started yet (their run).
ALTER TABLE run_children ADD COLUMN task_id TEXT;
ALTER TABLE run_children ADD COLUMN child_run_id TEXT;
