import { existsSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ValidationError } from '../core/errors.js';
import { toHandlersModule, type HandlersModule } from './handlers.js';

let tsxRegistered = false;

/** Imports a handlers file (`.js`, `.mjs`, or TypeScript through tsx). */
export async function loadHandlers(file: string): Promise<HandlersModule> {
  const path = resolve(file);
  if (!existsSync(path) || !statSync(path).isFile()) throw new ValidationError(`--handlers: file ${file} not found`, [{ path: 'handlers', message: 'file not found' }]);
  if (['.ts', '.mts', '.cts', '.tsx'].includes(extname(path)) && !tsxRegistered) {
    const { register } = await import('tsx/esm/api');
    register();
    tsxRegistered = true;
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (e) {
    throw new ValidationError(`--handlers ${file}: cannot load it: ${(e as Error).message}`, [{ path: 'handlers', message: 'cannot load' }]);
  }
  return toHandlersModule(mod, file);
}
