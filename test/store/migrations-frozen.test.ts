/**
 * Released migrations are never edited (STYLE §3): a database records a migration as applied by its
 * number and name, so a migration changed after some database applied it leaves that database with a
 * schema this build's later migrations and queries do not expect. Each shipped migration's SHA-256
 * (first 16 hex digits) is pinned here; a change of schema is a new migration, whose checksum is added.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const pinned = JSON.parse(readFileSync(join(import.meta.dirname, 'migration-checksums.json'), 'utf8')) as Record<string, string>;

describe('released migrations', () => {
  it('are unchanged, and every migration shipped is pinned (a new one: add its checksum to migration-checksums.json)', () => {
    const shipped: Record<string, string> = {};
    for (const dialect of ['sqlite', 'postgres']) {
      const dir = join(ROOT, 'src', 'store', dialect, 'migrations');
      for (const f of readdirSync(dir).filter((x) => x.endsWith('.sql')).sort()) {
        shipped[`${dialect}/${f}`] = createHash('sha256').update(readFileSync(join(dir, f))).digest('hex').slice(0, 16);
      }
    }
    expect(shipped).toEqual(pinned);
  });
});
