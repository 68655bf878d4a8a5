-- The jobs chained after a task (Starfish `chainJobs`): a JSON array of task references.
ALTER TABLE tasks ADD COLUMN chain TEXT NOT NULL DEFAULT '[]';
