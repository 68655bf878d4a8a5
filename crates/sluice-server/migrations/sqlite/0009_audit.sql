-- The audit log: sign-ins (failed ones too) and changes to users, orgs and connections. Rows are
-- only ever added. `org_id` NULL: the event concerns no org (a sign-in as a user name nobody has);
-- no foreign key, so the log outlives what it tells of. Times are microseconds since the epoch.
CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    org_id TEXT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    client_addr TEXT,
    surface TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_events_by_time ON audit_events (at, seq);
CREATE INDEX audit_events_by_org ON audit_events (org_id, at, seq);
