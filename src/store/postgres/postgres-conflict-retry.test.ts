import { describe, expect, it } from 'vitest';
import { retryingConflicts } from './postgres-errors.js';

describe('retryingConflicts (a hot-path statement after a deadlock)', () => {
  it('tries a statement that deadlocked or failed to serialize again, at most five times in all; other errors at once', async () => {
    for (const code of ['40P01', '40001']) {
      let calls = 0;
      await expect(retryingConflicts(async () => (++calls < 3 ? Promise.reject(Object.assign(new Error('deadlock detected'), { code })) : 'ok'))).resolves.toBe('ok');
      expect(calls).toBe(3);
      calls = 0;
      await expect(retryingConflicts(async () => (++calls, Promise.reject(Object.assign(new Error('again'), { code }))))).rejects.toMatchObject({ code });
      expect(calls).toBe(5);
    }
    let calls = 0;
    await expect(retryingConflicts(async () => (++calls, Promise.reject(Object.assign(new Error('unique'), { code: '23505' }))))).rejects.toMatchObject({ code: '23505' });
    expect(calls).toBe(1);
  });
});
