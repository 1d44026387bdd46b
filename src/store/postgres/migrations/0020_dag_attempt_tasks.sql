-- Archiving holds back the jobboard task of a DAG task's current attempt while that DAG task is not
-- final (docs/archiving.md): each candidate run or task looks up the attempt it is, by task id.
-- Written to run again harmlessly (IF NOT EXISTS), as the migrations before it.
CREATE INDEX IF NOT EXISTS dag_task_attempts_task ON dag_task_attempts (orrery_task);
