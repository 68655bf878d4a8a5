-- Sessions that expire after a time without use (IICS: 30 minutes idle). `idle_secs` NULL = no idle
-- expiry; `last_used_at` is moved forward as the session is used (at most every few seconds).
ALTER TABLE api_tokens ADD COLUMN idle_secs INTEGER;
ALTER TABLE api_tokens ADD COLUMN last_used_at INTEGER;
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);
