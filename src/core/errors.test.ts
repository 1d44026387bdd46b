import { describe, expect, it } from 'vitest';
import * as errors from './errors.js';
import { LeaseLostError, NotFoundError, ORRERY_ERROR_CODES, OrreryError, PermanentFailure, hasCode, isOrreryError } from './errors.js';

describe('error codes', () => {
  it('ORRERY_ERROR_CODES lists the code of every OrreryError class, and only those', () => {
    const classes = (Object.values(errors) as unknown[]).filter(
      (v): v is new (message: string) => OrreryError => typeof v === 'function' && (v === OrreryError || v.prototype instanceof OrreryError),
    );
    expect(classes.length).toBeGreaterThan(5);
    expect(new Set(classes.map((C) => new C('x').code))).toEqual(new Set(ORRERY_ERROR_CODES));
  });

  it('isOrreryError: the classes, or anything carrying one of their codes (errors rebuilt by a remote client)', () => {
    expect(isOrreryError(new NotFoundError('gone'))).toBe(true);
    expect(isOrreryError(Object.assign(new Error('gone'), { code: 'not_found' }))).toBe(true);
    expect(isOrreryError({ code: 'lease_lost', message: 'not yours' })).toBe(true);
    expect(isOrreryError(new Error('socket hang up'))).toBe(false);
    expect(isOrreryError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(false);
    expect(isOrreryError(new PermanentFailure())).toBe(false);
    expect(isOrreryError({ code: 404 })).toBe(false);
    expect(isOrreryError(null)).toBe(false);
    expect(isOrreryError('not_found')).toBe(false);
  });

  it('hasCode: one code', () => {
    expect(hasCode(new LeaseLostError('lost'), 'lease_lost')).toBe(true);
    expect(hasCode(Object.assign(new Error('lost'), { code: 'lease_lost' }), 'lease_lost')).toBe(true);
    expect(hasCode(new NotFoundError('gone'), 'lease_lost')).toBe(false);
    expect(hasCode(undefined, 'lease_lost')).toBe(false);
  });

  it('isStorageUnavailable: a StorageUnavailableError (a StorageError), or its code carried elsewhere; nothing else', () => {
    const e = new errors.StorageUnavailableError('away', { cause: new Error('driver') });
    expect(e).toBeInstanceOf(errors.StorageError);
    expect(e.code).toBe('storage_unavailable');
    expect((e as { cause?: unknown }).cause).toBeInstanceOf(Error);
    expect(errors.isStorageUnavailable(e)).toBe(true);
    expect(errors.isStorageUnavailable({ code: 'storage_unavailable' })).toBe(true);
    expect(errors.isStorageUnavailable(new errors.StorageError('corrupt'))).toBe(false);
    expect(errors.isStorageUnavailable(new TypeError('bug'))).toBe(false);
    expect(errors.isStorageUnavailable(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(false); // untranslated
  });

  it('isNetworkError: network codes, also aggregated (every address refused); not other codes', () => {
    expect(errors.isNetworkError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(errors.isNetworkError(Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }))).toBe(true);
    expect(errors.isNetworkError(new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' }), Object.assign(new Error('b'), { code: 'ETIMEDOUT' })]))).toBe(true);
    expect(errors.isNetworkError(new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' }), new TypeError('b')]))).toBe(false);
    expect(errors.isNetworkError(Object.assign(new Error('x'), { code: 'CERT_HAS_EXPIRED' }))).toBe(false);
    expect(errors.isNetworkError(Object.assign(new Error('x'), { code: '57P01' }))).toBe(false);
    expect(errors.isNetworkError(null)).toBe(false);
  });

  it('LeaseLost and StaleData, the specification\'s names, are the same classes as LeaseLostError and StaleDataError', () => {
    expect(errors.LeaseLost).toBe(LeaseLostError);
    expect(errors.StaleData).toBe(errors.StaleDataError);
    expect(new LeaseLostError('x')).toBeInstanceOf(errors.LeaseLost);
  });
});

describe('RetryAfter', () => {
  const CENTURY = 100 * 365 * 86_400_000;
  it('takes a delay from 0 to 100 years, as an end\'s retryAfterMs', () => {
    expect(new errors.RetryAfter(0).delayMs).toBe(0);
    expect(new errors.RetryAfter(CENTURY).delayMs).toBe(CENTURY);
  });
  it('refuses a delay over 100 years (its end would be refused) with a ValidationError, as a negative one', () => {
    for (const ms of [CENTURY + 1, Number.MAX_SAFE_INTEGER, 1e300]) {
      expect(() => new errors.RetryAfter(ms)).toThrow(errors.ValidationError);
      expect(() => new errors.RetryAfter(ms)).toThrow('at most 100 years');
    }
    expect(() => new errors.RetryAfter(-1)).toThrow(errors.ValidationError);
  });
  it('names the field it refuses in its details, delayMs, as every ValidationError does', () => {
    for (const [ms, message] of [[-1, 'must be a non-negative number of ms'], [Number.NaN, 'must be a non-negative number of ms'], [CENTURY + 1, `must be at most 100 years (${CENTURY} ms)`]] as const) {
      const e = (() => {
        try {
          new errors.RetryAfter(ms);
        } catch (x) {
          return x as errors.ValidationError;
        }
        return null;
      })();
      expect(e?.details).toEqual([{ path: 'delayMs', message }]);
      expect(e?.message).toBe(`RetryAfter: delay ${message}, got ${ms}`);
    }
  });
});

describe('shown: an offending value in a message, bounded whatever it is', () => {
  it('writes plain values as given and anything else by its kind, never recursing deep', () => {
    const { shown } = errors;
    let deep: unknown = [];
    for (let i = 0; i < 10_000; i++) deep = [deep];
    expect(shown(deep)).toBe('[an array]');
    expect(shown([1, 'a', null, [2], {}, 6])).toBe('[1, "a", null, an array, an object, ... (6 items)]');
    expect(shown(5)).toBe('5');
    expect(shown(10n)).toBe('10');
    expect(shown(Symbol('x'))).toBe('Symbol(x)');
    expect(shown(() => 1)).toBe('a function');
    expect(shown(new Map())).toBe('a Map');
    expect(shown(Object.create(null))).toBe('an object');
    expect(shown(new Date(Number.NaN))).toBe('Invalid Date');
    expect(shown('x'.repeat(1000))).toHaveLength(200 + '... (1000 characters)'.length);
    const trap = () => {
      throw new Error('trap');
    };
    expect(shown(new Proxy({}, { get: trap, getPrototypeOf: trap }))).toBe('an object');
  });
});
