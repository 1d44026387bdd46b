/** The start of a remote worker (`orrery worker --url`) against its server, loaded with it. */
import { ConflictError, NotFoundError } from '../core/errors.js';
import { dagSyncLine } from '../core/dag.js';
import type { Logger } from '../engine/logger.js';
import { prepareTypes } from '../engine/prepare-types.js';
import type { OrreryClient } from '../http/client.js';
import { HttpError } from '../http/errors.js';
import type { HandlersModule } from '../worker/handlers.js';
import { typesOption, UsageError } from './common.js';

/** A remote worker's start against its server: its task types, its DAGs and the `--types` check; the types to serve. */
export async function prepareRemote(client: OrreryClient, mod: HandlersModule, w: { types?: string; handlers: string; url: string; token: boolean }, log: Logger): Promise<string[] | undefined> {
  // A wrong token is found here, whatever the handlers file holds: said with the server and what to do.
  await client.listTaskTypes().catch((e: unknown) => {
    if (!(e instanceof HttpError) || (e.code !== 'unauthorized' && e.code !== 'forbidden')) throw e;
    const what = w.token ? 'refused the token given' : 'wants a token and none was given';
    throw new Error(`the server ${w.url} ${what} (${e.code === 'unauthorized' ? 401 : 403}: ${e.message}); give the token serve was started with, with --token or $ORRERY_API_TOKEN`);
  });
  await prepareTypes(
    {
      get: (n) => client.getTaskType(n).catch((e: unknown) => (e instanceof NotFoundError ? null : Promise.reject(e))),
      create: (t) => client.createTaskType(t).catch((e: unknown) => (e instanceof ConflictError ? client.getTaskType(String(t.name)) : Promise.reject(e))),
    },
    mod,
    log,
    `--handlers ${w.handlers}`,
  );
  if (mod.dags?.length) {
    // Synced through the server (PUT /api/dags), as a local process registers them in the database.
    for (const d of await client.dags.register(mod.dags.map((x) => x.toInput()))) {
      log.info(dagSyncLine(d));
    }
  }
  const types = typesOption(w.types);
  if (types) {
    const all = await client.listTaskTypes();
    const unknown = types.filter((t) => !all.some((x) => x.name === t));
    if (unknown.length) throw new UsageError(`--types: unknown task type${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
    // As with --db (start-server.ts checkTypes): a type this file cannot run is refused, not claimed and failed.
    const unhandled = all.filter((t) => types.includes(t.name) && !Object.hasOwn(mod.handlers, t.backendName));
    if (unhandled.length) throw new UsageError(`--types: no handler in ${w.handlers} for ${unhandled.map((t) => `${t.name} (backend ${t.backendName})`).join(', ')}`);
  }
  return types;
}

