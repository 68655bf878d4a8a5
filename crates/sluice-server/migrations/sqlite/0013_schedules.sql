-- Schedules: when they fire (a cron expression or a frequency, as JSON, in an IANA zone), what
-- they do with missed fires, and the next fire not yet made, which the firing pass advances in
-- the transaction that makes the fire's runs.
CREATE TABLE schedules (
    id                   TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL REFERENCES orgs(id),
    name                 TEXT NOT NULL,
    description          TEXT NOT NULL,
    timezone             TEXT NOT NULL,
    rule                 TEXT NOT NULL,
    catch_up             TEXT NOT NULL,
    catch_up_window_secs INTEGER NOT NULL,
    paused               INTEGER NOT NULL,
    origin               TEXT NOT NULL,
    next_fire_at         INTEGER,
    last_fire_at         INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    UNIQUE (org_id, name)
);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE paused = 0 AND next_fire_at IS NOT NULL;

-- How a task's runs start besides by request (its schedules), as JSON; and the schedules it
-- names, as rows, so a fire finds its tasks by index.
ALTER TABLE tasks ADD COLUMN policy TEXT;
CREATE TABLE task_schedules (
    task_id       TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    org_id        TEXT NOT NULL,
    schedule_name TEXT NOT NULL,
    parameters    TEXT NOT NULL,
    PRIMARY KEY (task_id, schedule_name)
);
CREATE INDEX task_schedules_by_schedule ON task_schedules (org_id, schedule_name);

-- The fire that made a run. No foreign key: a deleted schedule keeps the runs it made. At most
-- one run of a task per fire, whatever the number of nodes (its retries carry the fire too).
ALTER TABLE runs ADD COLUMN schedule_id TEXT;
ALTER TABLE runs ADD COLUMN schedule_name TEXT;
ALTER TABLE runs ADD COLUMN fire_at INTEGER;
-- Busy tasks and retries: an exclusive run (of a task that may not run in parallel) is claimed
-- only when its task's runs before it have ended; a retry is a new run linked to the one it
-- retries, not claimed before `not_before`, carrying the retry policy of its first attempt.
ALTER TABLE runs ADD COLUMN exclusive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN retry_of TEXT;
ALTER TABLE runs ADD COLUMN retry_policy TEXT;
ALTER TABLE runs ADD COLUMN not_before INTEGER;
CREATE UNIQUE INDEX runs_one_per_fire ON runs (task_id, schedule_id, fire_at)
    WHERE schedule_id IS NOT NULL AND retry_of IS NULL;

-- Blackout periods: windows (as JSON, in an IANA zone) in which none of the org's schedules fire.
CREATE TABLE blackouts (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    timezone    TEXT NOT NULL,
    span        TEXT NOT NULL,
    origin      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (org_id, name)
);
