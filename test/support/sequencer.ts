/**
 * The order in which `npm test` starts its files: the longest first, so that the last files to start
 * are short ones and the workers finish together (a long file started last would run alone).
 *
 * vitest orders by the durations it cached on earlier runs on this machine
 * (node_modules/.vite/vitest), and without them (a fresh clone, as in CI) by file size, which says
 * little: the files below take longest because they wait on processes, servers and timers. They
 * start first, in this order; every other file follows in vitest's order. A file missing here
 * costs only a less even finish; a name that no longer matches is ignored.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Paths from the repository root, longest first, as measured in a full run on a 2-core machine
 * (2026-12-06, test files sharing their worker's process). With the list before it, out of date, a
 * run without cached durations (as in CI) took 638 s, against 591 s in the order of cached durations;
 * with this list 622 s, and 538 s once handlers-files loaded its matrix in one process (moved down).
 */
export const LONGEST_FIRST = [
  'test/store/postgres.test.ts',
  'test/web/dashboard.test.ts',
  'test/store/sqlite.test.ts',
  'test/chaos/chaos.test.ts',
  'test/bench/bench-quick.test.ts',
  'test/e2e/graceful-shutdown.test.ts',
  'test/e2e/limits.test.ts',
  'test/e2e/hung-database-stop.test.ts',
  'test/cli/handlers-files.test.ts',
  'test/docs/package-contents.test.ts',
  'test/store/postgres-query-plans.test.ts',
  'test/e2e/endless-cycling.test.ts',
  'test/e2e/multi-process.test.ts',
  'test/http/task-import.test.ts',
  'test/simulate/simulate-postgres.test.ts',
  'test/simulate/world.test.ts',
  'test/docs/simulate-walkthrough.test.ts',
  'test/chaos/disk-full.test.ts',
  'test/e2e/isolation.test.ts',
  'test/worker/isolation-pool.test.ts',
  'test/e2e/serve.test.ts',
  'test/store/storage-unavailable.test.ts',
  'test/store/visits-query-plans.test.ts',
  'test/cli/cli-bad-input.test.ts',
  'test/docs/doc-blocks.test.ts',
  'test/e2e/visits-grab.test.ts',
  'test/e2e/remote-worker.test.ts',
  'test/cli/cli-options.test.ts',
  'test/e2e/graceful-load.test.ts',
  'test/simulate/short-cuts.test.ts',
  'test/store/postgres-batch-order.test.ts',
  'test/store/large-visit-grab.test.ts',
];

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const path = f.moduleId.slice(f.project.config.root.length + 1).replace(/\\/g, '/');
      const i = LONGEST_FIRST.indexOf(path);
      return i === -1 ? LONGEST_FIRST.length : i;
    };
    return sorted.map((f, i) => ({ f, i, r: rank(f) })).sort((a, b) => a.r - b.r || a.i - b.i).map((x) => x.f);
  }
}
