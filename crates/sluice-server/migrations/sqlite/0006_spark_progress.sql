-- The Spark application of a `spark` code task as last seen (application id, UI, state, jobs,
-- stages and tasks done), as JSON; written by the worker holding the run.
ALTER TABLE runs ADD COLUMN spark_progress TEXT;
