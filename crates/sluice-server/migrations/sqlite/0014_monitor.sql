-- The monitor's runs page counts an org's runs by state: an index it can answer from alone.
CREATE INDEX runs_by_org_state ON runs (org_id, state);
