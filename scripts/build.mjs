// Compiles src/ to dist/, copies the SQL migrations beside the compiled stores and bundles the web
// dashboard into dist/web. It compiles into
// a side directory and swaps it in, so running processes and tests never see dist/ half-written.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  // Installed without dev dependencies: use the shipped dist/ as it is.
  if (existsSync(join(root, 'dist', 'index.js'))) process.exit(0);
  console.error('orrery build: typescript is not installed and dist/ is missing');
  process.exit(1);
}
const next = join(root, `.dist-${process.pid}`);
const old = join(root, `.dist-old-${process.pid}`);
try {
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', next], { stdio: 'inherit', cwd: root });
  for (const dialect of readdirSync(join(root, 'src', 'store'), { withFileTypes: true })) {
    const from = join(root, 'src', 'store', dialect.name, 'migrations');
    if (dialect.isDirectory() && existsSync(from)) cpSync(from, join(next, 'store', dialect.name, 'migrations'), { recursive: true });
  }
  await buildDashboard(join(next, 'web'));
  if (existsSync(join(root, 'dist'))) renameSync(join(root, 'dist'), old);
  renameSync(next, join(root, 'dist'));
} finally {
  rmSync(next, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
}

/** The web dashboard (src/web, Preact) bundled by Vite into dist/web, which `orrery serve` serves at `/`. */
async function buildDashboard(outDir) {
  const { build } = await import('vite');
  await build({
    root: join(root, 'src', 'web'),
    configFile: false,
    logLevel: 'warn',
    base: '/',
    oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
    build: { outDir, emptyOutDir: true, target: 'es2022', reportCompressedSize: false, sourcemap: false, modulePreload: { polyfill: false } },
  });
}
