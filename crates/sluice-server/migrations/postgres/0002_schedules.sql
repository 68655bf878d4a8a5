-- Schedules: when they fire (a cron expression or a frequency, as JSON, in an IANA zone), what
-- they do with missed fires, and the next fire not yet made, which the firing pass advances in
-- the transaction that makes the fire's runs.
CREATE TABLE schedules (
    id                   UUID PRIMARY KEY,
    org_id               UUID NOT NULL REFERENCES orgs(id),
    name                 TEXT NOT NULL,
    description          TEXT NOT NULL,
    timezone             TEXT NOT NULL,
    rule                 JSONB NOT NULL,
    catch_up             TEXT NOT NULL,
    catch_up_window_secs BIGINT NOT NULL,
    paused               BOOLEAN NOT NULL,
    origin               JSONB NOT NULL,
    next_fire_at         TIMESTAMPTZ,
    last_fire_at         TIMESTAMPTZ,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    UNIQUE (org_id, name)
);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE NOT paused AND next_fire_at IS NOT NULL;

-- How a task's runs start besides by request (its schedules), as JSON; and the schedules it
-- names, as rows, so a fire finds its tasks by index.
ALTER TABLE tasks ADD COLUMN policy JSONB;
CREATE TABLE task_schedules (
    task_id       UUID NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    org_id        UUID NOT NULL,
    schedule_name TEXT NOT NULL,
    parameters    JSONB NOT NULL,
    PRIMARY KEY (task_id, schedule_name)
);
CREATE INDEX task_schedules_by_schedule ON task_schedules (org_id, schedule_name);

-- The fire that made a run. No foreign key: a deleted schedule keeps the runs it made. At most
-- one run of a task per fire, whatever the number of nodes (its retries carry the fire too).
ALTER TABLE runs ADD COLUMN schedule_id UUID;
ALTER TABLE runs ADD COLUMN schedule_name TEXT;
ALTER TABLE runs ADD COLUMN fire_at TIMESTAMPTZ;
-- Busy tasks and retries: an exclusive run (of a task that may not run in parallel) is claimed
-- only when its task's runs before it have ended; a retry is a new run linked to the one it
-- retries, not claimed before `not_before`, carrying the retry policy of its first attempt.
ALTER TABLE runs ADD COLUMN exclusive BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE runs ADD COLUMN attempt BIGINT NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN retry_of UUID;
ALTER TABLE runs ADD COLUMN retry_policy JSONB;
ALTER TABLE runs ADD COLUMN not_before TIMESTAMPTZ;
CREATE UNIQUE INDEX runs_one_per_fire ON runs (task_id, schedule_id, fire_at)
    WHERE schedule_id IS NOT NULL AND retry_of IS NULL;

-- Blackout periods: windows (as JSON, in an IANA zone) in which none of the org's schedules fire.
CREATE TABLE blackouts (
    id          UUID PRIMARY KEY,
    org_id      UUID NOT NULL REFERENCES orgs(id),
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    timezone    TEXT NOT NULL,
    span        JSONB NOT NULL,
    origin      JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (org_id, name)
);
