import { invalid } from './errors.js';

/**
 * An options object a call may leave out: undefined is `{}`; anything else that is not an object
 * (null, a number, a string) is a ValidationError naming `name`, not a TypeError from inside the call.
 */
export function optionsObject<T>(opts: T | null | undefined, name = 'options'): T {
  if (opts === undefined) return {} as T;
  if (opts === null || typeof opts !== 'object') throw invalid(name, 'must be an object (or left out)');
  return opts;
}

/** An options object a call needs: given as null, or left out, it names what it expects (`shape`). */
export function requireOptions(opts: unknown, shape: string): void {
  if (opts === null || typeof opts !== 'object') throw invalid('options', `must be an object ${shape}`);
}
