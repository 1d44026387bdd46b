import type { TaskType } from '../core/model.js';
import type { TaskTypeInput } from '../core/validation.js';
import { validation } from './input-parsers.js';
import type { HandlersModule } from '../worker/handlers.js';
import type { Logger } from './logger.js';

/** Where task types are read and created: the service, or a remote server's API. */
export interface TypeAccess {
  get(name: string): Promise<TaskType | null>;
  create(input: TaskTypeInput): Promise<TaskType>;
}

/** Creates the handlers file's task types that are missing; warns about stored ones that differ. */
export async function prepareTypes(types: TypeAccess, mod: HandlersModule | null, log: Logger): Promise<void> {
  if (!mod?.taskTypes?.length) return;
  const { validateTaskType } = await validation();
  for (const input of mod.taskTypes) {
    const declared = validateTaskType(input);
    const stored = (await types.get(declared.name)) ?? (await types.create(input));
    const differs = (Object.keys(declared) as (keyof typeof declared)[]).filter((k) => JSON.stringify(declared[k]) !== JSON.stringify(stored[k])); // rateLimit is an object
    if (differs.length > 0) {
      log.warn(`task type ${stored.name} in the database differs from the handlers file (${differs.join(', ')}); the database's definition is used`);
    } else log.debug(`task type ${stored.name} ready`);
  }
}
