-- Sluice embedded store. Times are microseconds since the Unix epoch (UTC); ids are UUID text.

CREATE TABLE orgs (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES orgs(id),
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    is_admin       INTEGER NOT NULL,
    created_at     INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER
);

CREATE TABLE tasks (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES orgs(id),
    short_id        TEXT NOT NULL UNIQUE,
    folder          TEXT NOT NULL,
    name            TEXT NOT NULL,
    task_type       TEXT NOT NULL,
    description     TEXT NOT NULL,
    allow_parallel  INTEGER NOT NULL,
    parameters      TEXT NOT NULL,
    definition      TEXT NOT NULL,
    origin          TEXT NOT NULL,
    -- The number the next run of this task gets.
    next_run_number INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (org_id, folder, name)
);
CREATE INDEX tasks_by_name ON tasks (org_id, name);

CREATE TABLE connections (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    name        TEXT NOT NULL,
    conn_type   TEXT NOT NULL,
    description TEXT NOT NULL,
    config      TEXT NOT NULL,
    origin      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE runs (
    id                  TEXT PRIMARY KEY,
    org_id              TEXT NOT NULL,
    -- No foreign key: a task may be deleted while its history stays readable.
    task_id             TEXT NOT NULL,
    run_number          INTEGER NOT NULL,
    external_id         TEXT,
    trigger             TEXT NOT NULL,
    started_by          TEXT NOT NULL,
    parameters          TEXT NOT NULL,
    callback_url        TEXT,
    state               TEXT NOT NULL,
    stop_mode           TEXT,
    stopped_by          TEXT,
    error               TEXT,
    source_rows_read    INTEGER NOT NULL DEFAULT 0,
    source_rows_failed  INTEGER NOT NULL DEFAULT 0,
    target_rows_written INTEGER NOT NULL DEFAULT 0,
    target_rows_failed  INTEGER NOT NULL DEFAULT 0,
    inserts             INTEGER NOT NULL DEFAULT 0,
    updates             INTEGER NOT NULL DEFAULT 0,
    deletes             INTEGER NOT NULL DEFAULT 0,
    skipped             INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    started_at          INTEGER,
    ended_at            INTEGER,
    lease_owner         TEXT,
    lease_expires_at    INTEGER,
    UNIQUE (task_id, run_number),
    UNIQUE (org_id, external_id)
);
CREATE INDEX runs_by_org ON runs (org_id, id);
CREATE INDEX runs_by_task ON runs (task_id, id);
-- Only active runs: claims scan queued ones, lease expiry scans claimed ones.
CREATE INDEX runs_active ON runs (state, id) WHERE state IN ('queued', 'starting', 'running', 'stopping');

CREATE TABLE run_logs (
    run_id   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    level    INTEGER NOT NULL,
    message  TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

CREATE TABLE callbacks (
    id               TEXT PRIMARY KEY,
    run_id           TEXT NOT NULL,
    url              TEXT NOT NULL,
    state            TEXT NOT NULL,  -- pending | delivered | failed
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    delivered_at     INTEGER
);
CREATE INDEX callbacks_due ON callbacks (next_attempt_at) WHERE state = 'pending';
CREATE INDEX callbacks_by_run ON callbacks (run_id);
