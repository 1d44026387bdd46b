import type pg from 'pg';
import { ValidationError, shown } from '../../core/errors.js';
import type { TaskType } from '../../core/model.js';
import { taskTypeFromRow, type Row } from '../rows.js';
import type { TypeCache } from '../task-types.js';

type Q = pg.PoolClient | pg.Pool;

/** Task types by name for the PostgreSQL store, each read at most once per TYPE_CACHE_MS (types are edited at runtime). */
export class PgTypeReads {
  constructor(private readonly cache: TypeCache) {}

  /** A type that must exist (a ValidationError naming it otherwise). */
  async of(q: Q, name: string): Promise<TaskType> {
    const type = await this.orNull(q, name);
    if (!type) throw new ValidationError(`unknown task type "${shown(name)}"`);
    return type;
  }

  async orNull(q: Q, name: string): Promise<TaskType | null> {
    const cached = this.cache.get(name);
    if (cached) return cached;
    const { rows } = await q.query<Row>('SELECT * FROM task_types WHERE name = $1', [name]);
    return rows[0] ? this.fresh(rows)[0]! : null;
  }

  /**
   * Types by name, those not cached read in one statement (a claim over 2,000 types read them one
   * round trip each, about 0.6 s per claim, once their cache entries had expired). Unknown names are absent.
   */
  async many(q: Q, names: readonly string[]): Promise<Map<string, TaskType>> {
    const out = new Map<string, TaskType>();
    const missing: string[] = [];
    for (const name of new Set(names)) {
      const cached = this.cache.get(name);
      if (cached) out.set(name, cached);
      else missing.push(name);
    }
    if (missing.length === 1) {
      const type = await this.orNull(q, missing[0]!);
      if (type) out.set(type.name, type);
    } else if (missing.length > 1) {
      const { rows } = await q.query<Row>('SELECT * FROM task_types WHERE name = ANY($1::text[])', [missing]);
      for (const type of this.fresh(rows)) out.set(type.name, type);
    }
    return out;
  }

  /** Rows just read, as types, each cached as fresh. */
  fresh(rows: readonly Row[]): TaskType[] {
    return rows.map((row) => {
      const type = taskTypeFromRow(row);
      this.cache.set(type);
      return type;
    });
  }
}
