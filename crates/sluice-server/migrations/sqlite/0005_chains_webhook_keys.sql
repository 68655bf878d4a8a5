-- The jobs chained after a task (Starfish `chainJobs`): a JSON array of task references.
ALTER TABLE tasks ADD COLUMN chain TEXT NOT NULL DEFAULT '[]';

-- A job's inbound webhook key (Starfish `v1/Webhook` for callers that cannot do the password
-- grant): only its SHA-256 is kept; a new key replaces the old.
CREATE TABLE webhook_keys (
    task_id     TEXT PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);
