import { existsSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ValidationError } from '../core/errors.js';
import { toHandlersModule, type HandlersModule } from './handlers.js';

/** TypeScript extensions, compiled by tsx. */
const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);

/**
 * Imports a handlers file in any package, whatever its `"type"`. With `ownProcess` (the CLI's daemons,
 * whose process loads nothing else meanwhile), a rejection left unhandled while it loads and a
 * top-level await that never settles are reported as the file's (whileLoading); with `isolate` (a
 * handler thread or process, whose entry reports a dry event loop itself) only the rejection. A
 * library process keeps Node's own handling, as its other code may be running.
 * - `.js`, `.mjs`, `.cjs` are imported by Node itself, with Node's rules (a `.js` file is CommonJS
 *   unless its package says `"type": "module"` or it uses ESM syntax outside any `"type"`); a `.js`
 *   file with ESM syntax that Node refuses (in a `"type": "commonjs"` package) is compiled by tsx;
 * - `.ts`, `.mts`, `.cts`, `.tsx` are compiled by tsx through `tsImport`, which registers no global
 *   hook: `.mts` is ESM, `.cts` CommonJS, and `.ts` follows the package's `"type"` (CommonJS outside
 *   a `"type": "module"` package, where top-level `await` needs `.mts`).
 * The same function loads the file inline and inside a handler thread or process (isolation).
 */
export async function loadHandlers(file: string, opts: { ownProcess?: boolean; isolate?: boolean } = {}): Promise<HandlersModule> {
  const path = resolve(file);
  if (!existsSync(path)) throw new ValidationError(`--handlers: file ${file} not found`, [{ path: 'handlers', message: 'file not found' }]);
  if (!statSync(path).isFile()) throw new ValidationError(`--handlers: ${file} is not a file (a directory?)`, [{ path: 'handlers', message: 'not a file' }]);
  let mod: Record<string, unknown>;
  try {
    mod = opts.ownProcess || opts.isolate ? await whileLoading(file, () => importFile(path), opts.ownProcess === true) : await importFile(path);
  } catch (e) {
    const message = namingTheFile(thrownText(e), path);
    const hint = /top-level await/i.test(message) && extname(path) === '.ts' ? ' (a .ts file outside a "type": "module" package is compiled as CommonJS: rename it .mts for top-level await)' : '';
    throw cannotLoad(file, `${message}${hint}`);
  }
  try {
    return toHandlersModule(mod, file);
  } catch (e) {
    // An export read through a getter that throws (a lazy `require` of a missing file) is a file that does not load.
    if (e instanceof ValidationError) throw e;
    throw cannotLoad(file, `reading its exports threw: ${namingTheFile(thrownText(e), path)}`);
  }
}

function cannotLoad(file: string, reason: string): ValidationError {
  return new ValidationError(`--handlers ${file}: cannot load it: ${reason}`, [{ path: 'handlers', message: 'cannot load' }]);
}

/**
 * A compile error of a `.mts`, `.cts` or `.tsx` file names the file as tsx's compiler saw it, with a
 * `.ts` extension (`/app/handlers.ts:1:37: ERROR: …` for `handlers.mts`): named as given instead, so
 * the user is not sent to another file.
 */
function namingTheFile(message: string, path: string): string {
  const ext = extname(path);
  if (ext === '.ts' || !TYPESCRIPT.has(ext)) return message;
  const seen = `${path.slice(0, -ext.length)}.ts:`;
  return message.split(seen).join(`${path}:`);
}

async function importFile(path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href;
  const viaTsx = async () => {
    const { tsImport } = await import('tsx/esm/api');
    return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  };
  if (TYPESCRIPT.has(extname(path))) return viaTsx();
  return withoutEsmAdvice(async () => {
    try {
      return (await import(url)) as Record<string, unknown>;
    } catch (e) {
      // A `.js` file with ESM syntax in a CommonJS package (`npm init -y` writes "type": "commonjs"),
      // which Node refuses: tsx compiles it to CommonJS. Any other error is the file's own.
      if (!(e instanceof SyntaxError) || extname(path) !== '.js') throw e;
      // When Node refused the module's format (import/export in CommonJS), the file's own failure is
      // what tsx met (a missing import, a throw at its top level); a syntax error of its own is Node's.
      return viaTsx().catch((t: unknown) => Promise.reject(MODULE_FORMAT.test(e.message) ? t : e));
    }
  });
}

/** Node's SyntaxErrors about a module's format (ESM syntax read as CommonJS), not about the file's own syntax. */
const MODULE_FORMAT = /Cannot use import statement outside a module|Unexpected token 'export'|Cannot use 'import\.meta' outside a module|await is only valid in async functions and the top level bodies of modules/;

/**
 * Node's advice on a `.js` file with ESM syntax in a CommonJS package (Node 20: `To load an ES module,
 * set "type": "module" …`; later ones: `… Make sure to set "type": "module" …`): wrong here, where tsx
 * loads the file.
 */
const ESM_ADVICE = /set "type": "module"/;

/** Loads in progress that filter the advice, and the filter installed on `process.emit` while any is. */
let filtering = 0;
let filter: { wrapper: typeof process.emit; original: typeof process.emit } | null = null;

/**
 * Runs a load with that one warning left unprinted (Node printed it, telling the user to change their
 * package, before the file loaded through tsx); every other event goes through. Node emits it as a
 * `warning` event on a later tick, so the filter stays on until the whole load (tsx's included) ends.
 * Loads may overlap (two servers starting): the filter is installed once and counts them. It is taken
 * off only if it is still `process.emit` itself: a handlers file that wrapped `process.emit` in turn
 * (an exit hook) keeps its wrapper, and the filter, left under it, passes everything while no load runs
 * (the next load installs another on top).
 */
async function withoutEsmAdvice<T>(load: () => Promise<T>): Promise<T> {
  filtering += 1;
  if (filter === null) {
    const original = process.emit;
    const wrapper = function (this: NodeJS.Process, event: string | symbol, ...args: unknown[]) {
      if (filtering > 0 && event === 'warning' && ESM_ADVICE.test(String((args[0] as Error | undefined)?.message ?? ''))) return false;
      return (original as (...a: unknown[]) => boolean).call(this, event, ...args);
    } as typeof process.emit;
    process.emit = wrapper;
    filter = { wrapper, original };
  }
  try {
    return await load();
  } finally {
    filtering -= 1;
    if (filtering === 0 && filter !== null) {
      if (process.emit === filter.wrapper) process.emit = filter.original;
      filter = null;
    }
  }
}

/** What a file threw, as text: an Error's message, or the value itself (`throw null`, `throw "x"`, `throw { code: 42 }`). */
export function thrownText(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'string') return `it threw the string ${JSON.stringify(e)}`;
  try {
    return `it threw ${e === undefined ? 'undefined' : (JSON.stringify(e) ?? String(e))}`;
  } catch {
    return `it threw ${String(e)}`;
  }
}

/** Files being loaded now: named if the process ends before they do (a top-level await that never settles). */
const loading = new Set<string>();
let exitWatched = false;

/**
 * Runs `load` and fails with what went wrong while it ran: a promise rejected and left unhandled by
 * the file's own code (Node would print its stack and exit 1), or, should the process run out of
 * work first (a top-level await that never settles: Node would exit 13 and say nothing), one line
 * naming the file, exit 2.
 */
async function whileLoading<T>(file: string, load: () => Promise<T>, watchDry: boolean): Promise<T> {
  let unhandled: { reason: unknown } | null = null;
  const onUnhandled = (reason: unknown) => {
    unhandled ??= { reason };
  };
  if (watchDry && !exitWatched) {
    exitWatched = true;
    // 'beforeExit' comes only when the event loop ran dry by itself (never on process.exit(): a daemon
    // stopped by a signal while a slow file still loads exits as it chose): a load still pending then
    // waits on nothing and can never end.
    process.on('beforeExit', () => {
      if (loading.size === 0) return;
      for (const f of loading) process.stderr.write(`orrery: --handlers ${f}: cannot load it: its top-level await never settled (nothing was left for it to wait on)\n`);
      process.exit(2);
    });
  }
  if (watchDry) loading.add(file);
  process.on('unhandledRejection', onUnhandled);
  try {
    const out = await load();
    await new Promise<void>((r) => setImmediate(r)); // a rejection of its last turn is reported after it
    if (unhandled !== null) throw new Error(`a promise it created was rejected and not handled: ${thrownText((unhandled as { reason: unknown }).reason)}`);
    return out;
  } finally {
    loading.delete(file);
    process.off('unhandledRejection', onUnhandled);
  }
}
