-- Issue 15: tasks_next_due is dropped. It served one query, the runner's sleep (nextDueAt), which now
-- reads the first entry of tasks_due per type and priority rank; every claim and every end of a recurring
-- task paid an entry in it. Its presence also let the generic plan of the prepared claim of due tasks
-- read due tasks of every type in next_run order instead of the claimed type's own tasks_due range.
DROP INDEX IF EXISTS tasks_next_due;
