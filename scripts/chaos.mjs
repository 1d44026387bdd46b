// `npm run chaos -- [--oneshot 5000] [--recurring 500] [--rounds 3] [--max-ms 60000] [--store sqlite|postgres] [--report FILE]`
// Runs the chaos suite (test/chaos/chaos.test.ts) at the given size; its figures go to the report file.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const usage = 'usage: npm run chaos -- [--oneshot N] [--recurring N] [--rounds N] [--max-ms MS] [--store sqlite|postgres] [--report FILE]';
let values;
try {
  ({ values } = parseArgs({
    options: {
      oneshot: { type: 'string', default: '5000' },
      recurring: { type: 'string', default: '500' },
      rounds: { type: 'string', default: '3' },
      'max-ms': { type: 'string', default: '60000' },
      store: { type: 'string' },
      report: { type: 'string', default: 'chaos-report.json' },
      help: { type: 'boolean' },
    },
  }));
} catch (e) {
  console.error(`chaos: ${e.message}\n${usage}`);
  process.exit(2);
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}
for (const k of ['oneshot', 'recurring', 'rounds', 'max-ms']) {
  if (!/^\d+$/.test(values[k]) || Number(values[k]) < (k === 'recurring' ? 0 : 1)) {
    console.error(`chaos: --${k} must be a positive integer, got "${values[k]}"\n${usage}`);
    process.exit(2);
  }
}
if (values.store && !['sqlite', 'postgres'].includes(values.store)) {
  console.error(`chaos: --store must be sqlite or postgres, got "${values.store}"`);
  process.exit(2);
}
const build = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const filter = values.store === 'sqlite' ? ['-t', 'SQLite'] : values.store === 'postgres' ? ['-t', 'PostgreSQL'] : [];
const r = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', 'test/chaos/chaos.test.ts', ...filter], {
  stdio: 'inherit',
  env: {
    ...process.env,
    ORRERY_CHAOS_ONESHOT: values.oneshot,
    ORRERY_CHAOS_RECURRING: values.recurring,
    ORRERY_CHAOS_ROUNDS: values.rounds,
    ORRERY_CHAOS_MAX_MS: values['max-ms'],
    ORRERY_CHAOS_REPORT: values.report,
  },
});
if (r.status === 0) console.log(`chaos: figures written to ${values.report}`);
process.exit(r.status ?? 1);
