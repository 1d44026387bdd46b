import { describe, expect, it } from 'vitest';
import { FINISHED_TASK_STATUSES_SQL, UNFINISHED_RUN_STATUSES_SQL, sqlStrings } from './sql-lists.js';

describe('sqlStrings', () => {
  it('quotes each name and joins them for IN (...)', () => {
    expect(sqlStrings(['a', 'b_c'])).toBe("'a', 'b_c'");
    expect(FINISHED_TASK_STATUSES_SQL).toBe("'completed', 'disabled'");
    expect(UNFINISHED_RUN_STATUSES_SQL).toBe("'scheduled', 'claimed', 'started'");
  });
  it('refuses a value holding a quote rather than build broken SQL', () => {
    expect(() => sqlStrings(["x'); DROP TABLE tasks; --"])).toThrow(/not a plain name/);
  });
});
