-- Sluice's shared store on PostgreSQL: the schema of the embedded SQLite store (migrations/sqlite)
-- up to its 0010, in PostgreSQL's own types. Several nodes use one database; the run lifecycle
-- takes row locks (FOR UPDATE, SKIP LOCKED for claims) where SQLite's single writer serialised.

CREATE TABLE orgs (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id             UUID PRIMARY KEY,
    org_id         UUID NOT NULL REFERENCES orgs(id),
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);

-- Sessions and API tokens: only hashes are kept. `idle_secs` NULL = no idle expiry.
CREATE TABLE api_tokens (
    token_hash    TEXT PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ,
    idle_secs     BIGINT,
    last_used_at  TIMESTAMPTZ
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

CREATE TABLE tasks (
    id              UUID PRIMARY KEY,
    org_id          UUID NOT NULL REFERENCES orgs(id),
    short_id        TEXT NOT NULL UNIQUE,
    folder          TEXT NOT NULL,
    name            TEXT NOT NULL,
    task_type       TEXT NOT NULL,
    description     TEXT NOT NULL,
    allow_parallel  BOOLEAN NOT NULL,
    parameters      JSONB NOT NULL,
    definition      JSONB NOT NULL,
    origin          JSONB NOT NULL,
    chain           JSONB NOT NULL DEFAULT '[]',
    -- The number the next run of this task gets.
    next_run_number BIGINT NOT NULL DEFAULT 1,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (org_id, folder, name)
);
CREATE INDEX tasks_by_name ON tasks (org_id, name);

CREATE TABLE connections (
    id          UUID PRIMARY KEY,
    org_id      UUID NOT NULL REFERENCES orgs(id),
    name        TEXT NOT NULL,
    conn_type   TEXT NOT NULL,
    description TEXT NOT NULL,
    -- Literal secrets sealed (store::seal); never plain text.
    config      JSONB NOT NULL,
    origin      JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE runs (
    id                  UUID PRIMARY KEY,
    org_id              UUID NOT NULL,
    -- No foreign key: a task may be deleted while its history stays readable.
    task_id             UUID NOT NULL,
    run_number          BIGINT NOT NULL,
    external_id         TEXT,
    trigger             TEXT NOT NULL,
    started_by          TEXT NOT NULL,
    parameters          JSONB NOT NULL,
    callback_url        TEXT,
    state               TEXT NOT NULL,
    stop_mode           TEXT,
    stopped_by          TEXT,
    error               TEXT,
    source_rows_read    BIGINT NOT NULL DEFAULT 0,
    source_rows_failed  BIGINT NOT NULL DEFAULT 0,
    target_rows_written BIGINT NOT NULL DEFAULT 0,
    target_rows_failed  BIGINT NOT NULL DEFAULT 0,
    inserts             BIGINT NOT NULL DEFAULT 0,
    updates             BIGINT NOT NULL DEFAULT 0,
    deletes             BIGINT NOT NULL DEFAULT 0,
    skipped             BIGINT NOT NULL DEFAULT 0,
    created_at          TIMESTAMPTZ NOT NULL,
    started_at          TIMESTAMPTZ,
    ended_at            TIMESTAMPTZ,
    -- The node that claimed the run (kept after it ends); the lease is its hold while active.
    node                TEXT,
    lease_owner         TEXT,
    lease_expires_at    TIMESTAMPTZ,
    spark_progress      JSONB,
    UNIQUE (task_id, run_number),
    UNIQUE (org_id, external_id)
);
CREATE INDEX runs_by_org ON runs (org_id, id);
CREATE INDEX runs_by_task ON runs (task_id, id);
-- Only active runs, so a long history does not slow the hot path: claims scan queued runs in
-- id order, lease expiry scans claimed ones.
CREATE INDEX runs_queued ON runs (id) WHERE state = 'queued';
CREATE INDEX runs_claimed ON runs (lease_expires_at) WHERE state IN ('starting', 'running', 'stopping');
CREATE INDEX runs_active_by_task ON runs (task_id)
    WHERE state IN ('queued', 'starting', 'running', 'stopping');
-- Retention removes ended runs oldest first.
CREATE INDEX runs_ended ON runs (ended_at) WHERE ended_at IS NOT NULL;

CREATE TABLE run_logs (
    run_id   UUID NOT NULL,
    seq      BIGINT NOT NULL,
    at       TIMESTAMPTZ NOT NULL,
    level    BIGINT NOT NULL,
    message  TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- Files a run leaves (its rejected rows), in chunks, so every node can serve them whichever node
-- ran the load. Names sort in the order they are served.
CREATE TABLE run_files (
    run_id  UUID NOT NULL,
    name    TEXT NOT NULL,
    chunk   BIGINT NOT NULL,
    data    BYTEA NOT NULL,
    PRIMARY KEY (run_id, name, chunk)
);

-- The parts of a run (a replication's tables, a taskflow's steps), each with its own state and
-- counters.
CREATE TABLE run_children (
    run_id              UUID NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq                 BIGINT NOT NULL,
    name                TEXT NOT NULL,
    state               TEXT NOT NULL,
    started_at          TIMESTAMPTZ,
    ended_at            TIMESTAMPTZ,
    source_rows_read    BIGINT NOT NULL DEFAULT 0,
    source_rows_failed  BIGINT NOT NULL DEFAULT 0,
    target_rows_written BIGINT NOT NULL DEFAULT 0,
    target_rows_failed  BIGINT NOT NULL DEFAULT 0,
    inserts             BIGINT NOT NULL DEFAULT 0,
    updates             BIGINT NOT NULL DEFAULT 0,
    deletes             BIGINT NOT NULL DEFAULT 0,
    skipped             BIGINT NOT NULL DEFAULT 0,
    error               TEXT,
    task_id             UUID,
    child_run_id        UUID,
    PRIMARY KEY (run_id, seq)
);

-- The callback outbox: claimed like runs (one node makes each attempt); a resend starts a new
-- round of the schedule.
CREATE TABLE callbacks (
    id                UUID PRIMARY KEY,
    run_id            UUID NOT NULL,
    url               TEXT NOT NULL,
    state             TEXT NOT NULL,  -- pending | delivered | failed
    attempts          BIGINT NOT NULL DEFAULT 0,
    round_attempts    BIGINT NOT NULL DEFAULT 0,
    round_started_at  TIMESTAMPTZ,
    next_attempt_at   TIMESTAMPTZ NOT NULL,
    last_error        TEXT,
    created_at        TIMESTAMPTZ NOT NULL,
    delivered_at      TIMESTAMPTZ,
    claimed_by        TEXT,
    claim_expires_at  TIMESTAMPTZ
);
CREATE INDEX callbacks_due ON callbacks (next_attempt_at) WHERE state = 'pending';
CREATE INDEX callbacks_by_run ON callbacks (run_id);

CREATE TABLE callback_attempts (
    callback_id  UUID NOT NULL REFERENCES callbacks (id) ON DELETE CASCADE,
    attempt      BIGINT NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    ended_at     TIMESTAMPTZ NOT NULL,
    -- The receiver's HTTP status; NULL when it never answered.
    status_code  BIGINT,
    error        TEXT,
    PRIMARY KEY (callback_id, attempt)
);

-- High-water marks of incremental replication, per task and source object.
CREATE TABLE watermarks (
    task_id     UUID NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    object      TEXT NOT NULL,
    value       TEXT NOT NULL,
    run_id      UUID NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (task_id, object)
);

-- A job's inbound webhook key: only its SHA-256 is kept.
CREATE TABLE webhook_keys (
    task_id     UUID PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL
);

-- The audit log: rows are only ever added; no foreign key, so it outlives what it tells of.
CREATE TABLE audit_events (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           TIMESTAMPTZ NOT NULL,
    org_id       UUID,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    target       TEXT NOT NULL,
    client_addr  TEXT,
    surface      TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    detail       TEXT NOT NULL
);
CREATE INDEX audit_events_by_time ON audit_events (at, seq);
CREATE INDEX audit_events_by_org ON audit_events (org_id, at, seq);
