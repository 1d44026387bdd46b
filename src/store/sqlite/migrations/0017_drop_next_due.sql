-- Issue 15: tasks_next_due is dropped (PostgreSQL migration 0016). It served one query, the runner's
-- sleep (nextDueAt), which now reads the first entry of tasks_due per type and priority rank; every
-- claim and every end of a recurring task paid an entry in it.
DROP INDEX IF EXISTS tasks_next_due;
