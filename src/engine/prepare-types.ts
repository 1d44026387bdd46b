import { ValidationError } from '../core/errors.js';
import { checkDagTaskBackends } from '../core/dag.js';
import type { TaskType } from '../core/model.js';
import type { TaskTypeInput } from '../core/validation.js';
import { dagInput, validation } from './input-parsers.js';
import type { HandlersModule } from '../worker/handlers.js';
import type { Logger } from './logger.js';

/** Where task types are read and created: the service, or a remote server's API. */
export interface TypeAccess {
  get(name: string): Promise<TaskType | null>;
  create(input: TaskTypeInput): Promise<TaskType>;
}

/**
 * Creates the handlers file's task types that are missing; warns about stored ones that differ. The
 * file's DAGs are checked first (as registering them will check them): a bad one refuses the file
 * before any of its task types is stored.
 */
export async function prepareTypes(types: TypeAccess, mod: HandlersModule | null, log: Logger, source = ''): Promise<void> {
  if (mod?.dags?.length) {
    const specs = (await dagInput()).validateDags(mod.dags.map((d) => d.toInput()));
    // A DAG task type of another backend, declared by the file or stored: refused before the file's types are created.
    const declared = new Map<string, string>();
    for (const t of mod.taskTypes ?? []) {
      const name = (t as { name?: unknown }).name;
      if (typeof name === 'string' && !declared.has(name)) declared.set(name, String((t as { backendName?: unknown }).backendName ?? name));
    }
    const stored = new Map<string, string>();
    for (const name of new Set(specs.flatMap((s) => s.tasks.map((t) => t.type)))) {
      if (declared.has(name)) continue;
      const t = await types.get(name);
      if (t) stored.set(name, t.backendName);
    }
    checkDagTaskBackends(specs, (type) => declared.get(type) ?? stored.get(type));
  }
  if (!mod?.taskTypes?.length) return;
  const { validateTaskType } = await validation();
  // Every entry is checked before any is created: a bad one refuses the file and stores none, and
  // names its place (`taskTypes[1].numRetries`). A name given twice contradicts itself.
  const from = source ? `${source}: ` : '';
  const declaredAll = mod.taskTypes.map((input, i) => {
    try {
      return validateTaskType(input);
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      const at = (path: string) => `taskTypes[${i}]${path ? `.${path}` : ''}`;
      const first = e.details[0];
      throw new ValidationError(`${from}${at(first?.path ?? '')}: ${first?.message ?? e.message}`, e.details.map((d) => ({ ...d, path: at(d.path) })));
    }
  });
  const seen = new Map<string, number>();
  declaredAll.forEach((d, i) => {
    const j = seen.get(d.name);
    // The same definition twice (shared lists concatenated) is one type; two different ones contradict each other.
    if (j !== undefined && JSON.stringify(declaredAll[j]) !== JSON.stringify(d)) {
      throw new ValidationError(`${from}taskTypes[${i}]: task type ${d.name} is declared twice, differently (also taskTypes[${j}])`, [{ path: `taskTypes[${i}].name`, message: 'declared twice' }]);
    }
    if (j === undefined) seen.set(d.name, i);
  });
  for (const [i, input] of mod.taskTypes.entries()) {
    const declared = declaredAll[i]!;
    const stored = (await types.get(declared.name)) ?? (await types.create(input));
    const differs = (Object.keys(declared) as (keyof typeof declared)[]).filter((k) => JSON.stringify(declared[k]) !== JSON.stringify(stored[k])); // rateLimit is an object
    if (differs.length > 0) {
      log.warn(`task type ${stored.name} in the database differs from the handlers file (${differs.join(', ')}); the database's definition is used`);
    } else log.debug(`task type ${stored.name} ready`);
  }
}
