/**
 * The parsers of user input that load zod (task and type fields, type edits, DAG definitions,
 * listed origins), imported on first use: a process that only claims and ends runs, a worker,
 * never loads zod (about 12 MiB resident, docs/architecture.md). Each module is imported once.
 */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | null = null;
  return () => (loading ??= load());
}

export const validation = once(() => import('../core/validation.js'));
export const dagInput = once(() => import('../core/dag-input.js'));
export const taskTypeEdit = once(() => import('../core/task-type-edit.js'));
export const visitInput = once(() => import('../core/visit-input.js'));
