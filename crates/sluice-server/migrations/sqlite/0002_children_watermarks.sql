-- The parts of a run (a replication's tables), each with its own state and counters.
CREATE TABLE run_children (
    run_id              TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq                 INTEGER NOT NULL,
    name                TEXT NOT NULL,
    state               TEXT NOT NULL,
    started_at          INTEGER,
    ended_at            INTEGER,
    source_rows_read    INTEGER NOT NULL DEFAULT 0,
    source_rows_failed  INTEGER NOT NULL DEFAULT 0,
    target_rows_written INTEGER NOT NULL DEFAULT 0,
    target_rows_failed  INTEGER NOT NULL DEFAULT 0,
    inserts             INTEGER NOT NULL DEFAULT 0,
    updates             INTEGER NOT NULL DEFAULT 0,
    deletes             INTEGER NOT NULL DEFAULT 0,
    skipped             INTEGER NOT NULL DEFAULT 0,
    error               TEXT,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

-- High-water marks of incremental replication, per task and source object. Deleting a task
-- deletes its marks (its next incarnation starts from the beginning).
CREATE TABLE watermarks (
    task_id     TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    object      TEXT NOT NULL,
    value       TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (task_id, object)
) WITHOUT ROWID;
