-- Issue 18: task types paused and edited at runtime (docs/operations.md#pause-edit-and-delete-task-types).
-- A paused type's runs are neither scheduled nor claimed; NULL = running normally.
ALTER TABLE task_types ADD COLUMN paused_at INTEGER;
ALTER TABLE task_types ADD COLUMN paused_reason TEXT;
-- When the type was last edited, paused or resumed (NULL: never since it was created).
ALTER TABLE task_types ADD COLUMN updated INTEGER;
