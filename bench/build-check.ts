/**
 * Orrery's bench worker processes load the compiled package (dist/): before measuring, the bench
 * builds it (scripts/build.mjs) when it is missing or older than a file under src/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newestUnder(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestUnder(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds dist/ when it is stale; `log` says so. */
export function ensureBuilt(root: string, log: (line: string) => void): void {
  const built = join(root, 'dist', 'index.js');
  if (existsSync(built) && statSync(built).mtimeMs >= newestUnder(join(root, 'src'))) return;
  log('building dist/ (the Orrery worker processes run the compiled package)');
  execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
}
