-- The monitor's runs page counts an org's runs by state (from this index alone) and lists the
-- newest runs of one state (walking it backwards).
CREATE INDEX runs_by_org_state ON runs (org_id, state, id);
