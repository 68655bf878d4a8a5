-- Files a run leaves (its rejected rows), kept in the store in chunks so that whichever node ran
-- the load, every node can serve them. Names sort in the order they are served.
CREATE TABLE run_files (
    run_id  TEXT NOT NULL,
    name    TEXT NOT NULL,
    chunk   INTEGER NOT NULL,
    data    BLOB NOT NULL,
    PRIMARY KEY (run_id, name, chunk)
);
