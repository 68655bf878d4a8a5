-- Callbacks are claimed like runs (one node delivers each attempt) and every attempt is kept.
-- A resend starts a new round of the schedule: `round_attempts` and `round_started_at` drive it.
ALTER TABLE callbacks ADD COLUMN claimed_by TEXT;
ALTER TABLE callbacks ADD COLUMN claim_expires_at INTEGER;
ALTER TABLE callbacks ADD COLUMN round_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE callbacks ADD COLUMN round_started_at INTEGER;
UPDATE callbacks SET round_attempts = attempts, round_started_at = created_at;

CREATE TABLE callback_attempts (
    callback_id  TEXT NOT NULL REFERENCES callbacks (id) ON DELETE CASCADE,
    attempt      INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    ended_at     INTEGER NOT NULL,
    -- The receiver's HTTP status; NULL when it never answered.
    status_code  INTEGER,
    error        TEXT,
    PRIMARY KEY (callback_id, attempt)
) WITHOUT ROWID;
