import { existsSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ValidationError } from '../core/errors.js';
import { toHandlersModule, type HandlersModule } from './handlers.js';

/** TypeScript extensions, compiled by tsx. */
const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);

/**
 * Imports a handlers file in any package, whatever its `"type"`:
 * - `.js`, `.mjs`, `.cjs` are imported by Node itself, with Node's rules (a `.js` file is CommonJS
 *   unless its package says `"type": "module"` or it uses ESM syntax outside any `"type"`); a `.js`
 *   file with ESM syntax that Node refuses (in a `"type": "commonjs"` package) is compiled by tsx;
 * - `.ts`, `.mts`, `.cts`, `.tsx` are compiled by tsx through `tsImport`, which registers no global
 *   hook: `.mts` is ESM, `.cts` CommonJS, and `.ts` follows the package's `"type"` (CommonJS outside
 *   a `"type": "module"` package, where top-level `await` needs `.mts`).
 * The same function loads the file inline and inside a handler thread or process (isolation).
 */
export async function loadHandlers(file: string): Promise<HandlersModule> {
  const path = resolve(file);
  if (!existsSync(path)) throw new ValidationError(`--handlers: file ${file} not found`, [{ path: 'handlers', message: 'file not found' }]);
  if (!statSync(path).isFile()) throw new ValidationError(`--handlers: ${file} is not a file (a directory?)`, [{ path: 'handlers', message: 'not a file' }]);
  let mod: Record<string, unknown>;
  try {
    mod = await importFile(path);
  } catch (e) {
    const message = (e as Error).message;
    const hint = /top-level await/i.test(message) && extname(path) === '.ts' ? ' (a .ts file outside a "type": "module" package is compiled as CommonJS: rename it .mts for top-level await)' : '';
    throw new ValidationError(`--handlers ${file}: cannot load it: ${message}${hint}`, [{ path: 'handlers', message: 'cannot load' }]);
  }
  return toHandlersModule(mod, file);
}

async function importFile(path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href;
  const viaTsx = async () => {
    const { tsImport } = await import('tsx/esm/api');
    return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  };
  if (TYPESCRIPT.has(extname(path))) return viaTsx();
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (e) {
    // A `.js` file with ESM syntax in a CommonJS package (`npm init -y` writes "type": "commonjs"),
    // which Node refuses: tsx compiles it to CommonJS. Any other error is the file's own.
    if (!(e instanceof SyntaxError) || extname(path) !== '.js') throw e;
    return viaTsx().catch(() => Promise.reject(e));
  }
}
