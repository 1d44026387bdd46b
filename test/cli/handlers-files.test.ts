/**
 * Handlers files of every extension load in any package (issue 16, item 8): each case writes a
 * handlers file and a module it imports into a fresh directory (no package.json, `npm init -y`'s,
 * `"type": "commonjs"`, `"type": "module"`). A few cases start the built `orrery worker` on it and
 * wait for its start line, which names the handler read from the imported module; the whole matrix
 * is loaded by the CLI's own loader (`loadHandlers`, as `orrery worker` calls it) in one Node process
 * (a worker start-up per case cost about a second of CPU each, most of the file's time).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BIN, ROOT, removeTempDirs, tempDir } from './cli-helpers.js';

afterAll(removeTempDirs);

const PACKAGES = {
  'no package.json': null,
  // What npm 11's `npm init -y` writes.
  'npm init -y ("type": "commonjs")': { name: 'app', version: '1.0.0', main: 'index.js', scripts: { test: 'echo "Error: no test specified" && exit 1' }, license: 'ISC', type: 'commonjs' },
  '"type": "module"': { name: 'app', type: 'module' },
} as const;
type Pkg = keyof typeof PACKAGES;

interface Case {
  file: string;
  source: string;
  dep: string;
  depSource: string;
}

/** An ESM handlers file (TypeScript syntax where the extension allows it) importing its handler's name. */
const esm = (ext: string, depExt: string, ts: boolean): Case => ({
  file: `handlers${ext}`,
  source: `import { name } from './dep${depExt}';\nconst ok${ts ? ': string' : ''} = 'ok';\nexport const handlers = { [name]: async () => ok };\n`,
  dep: `dep${ext}`,
  depSource: `export const name${ts ? ': string' : ''} = 'from-${ext.slice(1)}';\n`,
});
/** An ESM handlers file whose default export is the handlers map itself, or `{ handlers }` (guide.md). */
const esmDefault = (ext: string, depExt: string, wrapped: boolean): Case => ({
  file: `handlers${ext}`,
  source: `import { name } from './dep${depExt}';\nconst handlers = { [name]: async () => 'ok' };\nexport default ${wrapped ? '{ handlers }' : 'handlers'};\n`,
  dep: `dep${ext}`,
  depSource: `export const name = 'from-${ext.slice(1)}';\n`,
});
/** A CommonJS handlers file (`require`, `module.exports`). */
const cjs = (ext: string): Case => ({
  file: `handlers${ext}`,
  source: `const { name } = require('./dep${ext}');\nmodule.exports = { handlers: { [name]: async () => 'ok' } };\n`,
  dep: `dep${ext}`,
  depSource: `module.exports = { name: 'from-${ext.slice(1)}' };\n`,
});

/** Which files load in which packages: TypeScript and ESM-by-extension everywhere; `.js` as its package says. */
const ALL = Object.keys(PACKAGES) as Pkg[];
const CASES: [string, Case, Pkg[]][] = [
  ['.ts (ESM syntax)', esm('.ts', '', true), ALL],
  ['.ts (CommonJS syntax)', cjs('.ts'), ['no package.json', 'npm init -y ("type": "commonjs")']],
  // Compiled to CommonJS outside a "type": "module" package, where the default export came back wrapped twice.
  ['.ts (default export of the handlers map)', esmDefault('.ts', '', false), ALL],
  ['.ts (default export of { handlers })', esmDefault('.ts', '', true), ALL],
  ['.mts', esm('.mts', '.mjs', true), ALL],
  ['.cts (ESM syntax, compiled to CommonJS)', esm('.cts', '.cjs', true), ALL],
  ['.mjs', esm('.mjs', '.mjs', false), ALL],
  ['.cjs', cjs('.cjs'), ALL],
  ['.js (CommonJS)', cjs('.js'), ['no package.json', 'npm init -y ("type": "commonjs")']],
  ['.js (ESM)', esm('.js', '.js', false), ALL],
];

interface Started {
  code: number | null;
  output: string;
}

/**
 * Starts `orrery worker ARGS` in `cwd`; resolves with its output once it logged its start line (then
 * kills it: a signal that early may precede its handlers) or exited (with its exit code).
 */
function startWorker(args: string[], cwd: string): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'worker', ...args], { cwd, env: { ...process.env, ORRERY_DB: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let stopping = false;
    const onData = (d: Buffer) => {
      output += d.toString();
      if (!stopping && /orrery started/.test(output)) {
        stopping = true;
        child.kill('SIGKILL');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

function project(pkg: Pkg, c: Case): string {
  const dir = tempDir();
  const json = PACKAGES[pkg];
  if (json) writeFileSync(join(dir, 'package.json'), JSON.stringify(json, null, 2));
  writeFileSync(join(dir, c.file), c.source);
  writeFileSync(join(dir, c.dep), c.depSource);
  return dir;
}

/**
 * Loads each case's handlers file with the built CLI's loader, one after the other in one fresh Node
 * process (each in its own directory, made its working directory, as `orrery worker` is started
 * there): per case, the handler names or the error, and the warnings Node emitted while it loaded.
 */
async function loadInOneProcess(cases: Array<{ dir: string; file: string }>): Promise<Array<{ names?: string[]; error?: string; warnings: string[] }>> {
  const loader = pathToFileURL(join(ROOT, 'dist', 'worker', 'load-handlers.js')).href;
  const script = `
    const { loadHandlers } = await import(${JSON.stringify(loader)});
    const cases = JSON.parse(process.argv[1]);
    let warnings = [];
    process.on('warning', (w) => warnings.push(String(w.message)));
    const out = [];
    for (const c of cases) {
      process.chdir(c.dir);
      warnings = [];
      try {
        const mod = await loadHandlers(c.file, { ownProcess: true });
        await new Promise((r) => setTimeout(r, 5));
        out.push({ names: Object.keys(mod.handlers), warnings });
      } catch (e) {
        out.push({ error: String(e && e.message), warnings });
      }
    }
    process.stdout.write(JSON.stringify(out));
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(cases)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`the loader process exited ${code}: ${stderr}`));
      // Node prints a warning nobody listens for on stderr: none is expected.
      else if (/Warning/.test(stderr)) reject(new Error(`the loader process printed a warning: ${stderr}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

/** Rows of (what, package, case): each case in each package where it loads. */
const rowsOf = (cases: [string, Case, Pkg[]][]) => cases.flatMap(([what, c, pkgs]) => pkgs.map((pkg) => [what, pkg, c] as const));

describe('orrery worker --handlers FILE in any package', () => {
  const rows = rowsOf(CASES);
  let loaded: Awaited<ReturnType<typeof loadInOneProcess>> = [];
  beforeAll(async () => {
    loaded = await loadInOneProcess(rows.map(([, pkg, c]) => ({ dir: project(pkg, c), file: c.file })));
  });
  test.each(rows.map((r, i) => [...r, i] as const))('%s with %s', (_what, _pkg, c, i) => {
    expect(loaded[i]!.error).toBeUndefined();
    expect(loaded[i]!.names).toEqual([`from-${c.file.split('.')[1]}`]);
    // No Node warning: its advice on ESM in a CommonJS package ("set "type": "module"") is wrong here.
    expect(loaded[i]!.warnings).toEqual([]);
  });

  // The same through the built CLI, in a process of its own for each: every package kind, and the
  // cases whose loading involves a process-wide step (tsx's first compile, Node's ESM advice on a .js
  // file in a CommonJS package, filtered).
  const END_TO_END = rows.filter(([what, pkg]) => what === '.ts (ESM syntax)' || (what === '.js (ESM)' && pkg === 'npm init -y ("type": "commonjs")') || (what === '.cts (ESM syntax, compiled to CommonJS)' && pkg === '"type": "module"'));
  test.concurrent.each(END_TO_END)('orrery worker: %s with %s', async (_what, pkg, c) => {
    const dir = project(pkg, c);
    const r = await startWorker(['--db', `sqlite:${join(dir, 'o.db')}`, '--handlers', c.file], dir);
    expect(r.output).toMatch(new RegExp(`orrery started .*handlers: from-${c.file.split('.')[1]}\\)`));
    expect(r.output).not.toMatch(/Warning/);
  });

  test('a missing file and a directory: exit 2, each named as what it is', async () => {
    const dir = tempDir();
    const missing = await startWorker(['--db', `sqlite:${join(dir, 'o.db')}`, '--handlers', 'nope.ts'], dir);
    expect(missing.code).toBe(2);
    expect(missing.output).toMatch(/^orrery: --handlers: file nope\.ts not found/);
    const folder = await startWorker(['--db', `sqlite:${join(dir, 'o.db')}`, '--handlers', '.'], dir);
    expect(folder.code).toBe(2);
    expect(folder.output).toMatch(/^orrery: --handlers: \. is not a file \(a directory\?\)/);
  });

  test('a CommonJS .js file in a "type": "module" package: exit 2 with Node\'s reason', async () => {
    const c = cjs('.js');
    const dir = project('"type": "module"', c);
    const r = await startWorker(['--db', `sqlite:${join(dir, 'o.db')}`, '--handlers', c.file], dir);
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/^orrery: --handlers handlers\.js: cannot load it: require is not defined in ES module scope/);
  });

  test.concurrent.each(['thread', 'process'])('a .ts file outside a "type": "module" package also loads in a handler %s (isolation)', async (mode) => {
    const c = esm('.ts', '', true);
    const dir = project('no package.json', c);
    const r = await startWorker(['--db', `sqlite:${join(dir, 'o.db')}`, '--handlers', c.file, '--isolation', mode, '--concurrency', '1'], dir);
    expect(r.output).toMatch(new RegExp(`orrery started .*isolation ${mode}, handlers: from-ts\\)`));
  });

  test('a .ts file with top-level await outside a "type": "module" package: exit 2 with a hint to rename it .mts', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'handlers.ts'), "await Promise.resolve();\nexport const handlers = { a: async () => 'ok' };\n");
    const r = await startWorker(['--db', `sqlite:${join(dir, 'o.db')}`, '--handlers', 'handlers.ts'], dir);
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/--handlers handlers\.ts: cannot load it: [\s\S]*rename it \.mts for top-level await/);
    writeFileSync(join(dir, 'handlers.mts'), "await Promise.resolve();\nexport const handlers = { a: async () => 'ok' };\n");
    const mts = await startWorker(['--db', `sqlite:${join(dir, 'o.db')}`, '--handlers', 'handlers.mts'], dir);
    expect(mts.output).toMatch(/orrery started .*handlers: a\)/);
  });

  // Importing the package itself, as guide.md's handlers do (`import { PermanentFailure } from 'orrery'`),
  // with Orrery installed in the project's node_modules: a file compiled or written as CommonJS
  // requires the package's ES modules (its exports map has no import-only condition).
  const fromPackage = (ext: string, syntax: 'esm' | 'cjs', ts: boolean): Case => ({
    file: `handlers${ext}`,
    source:
      syntax === 'esm'
        ? `import { PermanentFailure } from 'orrery';\nimport { Daemon } from 'orrery/worker';\nconst name${ts ? ': string' : ''} = \`pkg-\${typeof PermanentFailure}-\${typeof Daemon}\`;\nexport const handlers = { [name]: async () => 'ok' };\n`
        : `const { PermanentFailure } = require('orrery');\nconst { Daemon } = require('orrery/worker');\nmodule.exports = { handlers: { [\`pkg-\${typeof PermanentFailure}-\${typeof Daemon}\`]: async () => 'ok' } };\n`,
    dep: 'unused.txt',
    depSource: '',
  });
  const PACKAGE_CASES: [string, Case, Pkg[]][] = [
    ['.ts importing orrery', fromPackage('.ts', 'esm', true), ALL],
    ['.cts importing orrery', fromPackage('.cts', 'esm', true), ALL],
    ['.mts importing orrery', fromPackage('.mts', 'esm', true), ALL],
    ['.mjs importing orrery', fromPackage('.mjs', 'esm', false), ALL],
    ['.js (ESM) importing orrery', fromPackage('.js', 'esm', false), ALL],
    ['.cjs requiring orrery', fromPackage('.cjs', 'cjs', false), ALL],
    ['.js (CommonJS) requiring orrery', fromPackage('.js', 'cjs', false), ['no package.json', 'npm init -y ("type": "commonjs")']],
  ];
  const packageRows = rowsOf(PACKAGE_CASES);
  const withOrrery = (pkg: Pkg, c: Case) => {
    const dir = project(pkg, c);
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules', 'orrery'));
    return dir;
  };
  let fromPackages: Awaited<ReturnType<typeof loadInOneProcess>> = [];
  beforeAll(async () => {
    fromPackages = await loadInOneProcess(packageRows.map(([, pkg, c]) => ({ dir: withOrrery(pkg, c), file: c.file })));
  });
  test.each(packageRows.map((r, i) => [...r, i] as const))('%s with %s, Orrery in node_modules', (_what, _pkg, c, i) => {
    expect(fromPackages[i]!.error).toBeUndefined();
    expect(fromPackages[i]!.names).toEqual(['pkg-function-function']);
    expect(fromPackages[i]!.warnings).toEqual([]);
  });
  test.concurrent.each(packageRows.filter(([what, pkg]) => pkg === 'npm init -y ("type": "commonjs")' && (what === '.ts importing orrery' || what === '.cjs requiring orrery')))(
    'orrery worker: %s with %s, Orrery in node_modules',
    async (_what, pkg, c) => {
      const dir = withOrrery(pkg, c);
      const r = await startWorker(['--db', `sqlite:${join(dir, 'o.db')}`, '--handlers', c.file], dir);
      expect(r.output).toMatch(/orrery started .*handlers: pkg-function-function\)/);
    },
  );
});

describe('an ESM .js file in a "type": "commonjs" package that fails for a reason of its own', () => {
  // Node refuses its format first; tsx then loads it and meets the file's own failure, which was hidden
  // behind Node's "Cannot use import statement outside a module" (guide audit).
  test('says the reason tsx met (a missing import, a throw at its top level); a syntax error of its own is still Node\'s', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'package.json'), JSON.stringify(PACKAGES['npm init -y ("type": "commonjs")']));
    writeFileSync(join(dir, 'missing.js'), 'import { x } from "./nonexistent-helper.js";\nexport const handlers = { a: async () => x };\n');
    writeFileSync(join(dir, 'throws.js'), 'export const handlers = { a: async () => true };\nthrow new Error("DATABASE_URL is not set");\n');
    writeFileSync(join(dir, 'syntax.js'), 'const handlers = { a: async ( => true };\nmodule.exports = { handlers };\n');
    const [missing, throws, syntax] = await loadInOneProcess(['missing.js', 'throws.js', 'syntax.js'].map((file) => ({ dir, file })));
    expect(missing!.error).toMatch(/^--handlers missing\.js: cannot load it: .*nonexistent-helper/);
    expect(throws!.error).toMatch(/^--handlers throws\.js: cannot load it: DATABASE_URL is not set$/);
    expect(syntax!.error).toMatch(/^--handlers syntax\.js: cannot load it: Unexpected token/);
  });
});

describe('handlers files that cannot serve: exit 2 with one line naming the file and the reason', () => {
  const BAD: Array<[string, string, string, RegExp]> = [
    ['a top-level await that never settles (Node would exit 13, silently)', 'tla.mjs', 'await new Promise(() => {});\nexport const handlers = { a: async () => true };\n', /^orrery: --handlers tla\.mjs: cannot load it: its top-level await never settled/],
    ['a top-level throw of null', 'null.mjs', 'throw null;\n', /^orrery: --handlers null\.mjs: cannot load it: it threw null$/m],
    ['a top-level throw of a string', 'str.mjs', 'throw "plain";\n', /^orrery: --handlers str\.mjs: cannot load it: it threw the string "plain"$/m],
    ['a rejection left unhandled while it loads (Node would print its stack)', 'rej.mjs', 'const db = (async () => { throw new Error("ECONNREFUSED db"); })();\nexport const handlers = { a: async () => { await db; return true; } };\n', /^orrery: --handlers rej\.mjs: cannot load it: a promise it created was rejected and not handled: ECONNREFUSED db$/m],
    ['exports read through a getter that throws (a lazy require of a missing file; it exited 1 with a bare message)', 'lazy.cjs', 'module.exports = { get handlers() { return require("./missing-handlers.cjs"); } };\n', /^orrery: --handlers lazy\.cjs: cannot load it: reading its exports threw: Cannot find module '\.\/missing-handlers\.cjs'/m],
    ['a CommonJS file that never sets module.exports', 'empty.cjs', '', /^orrery: --handlers empty\.cjs: no handler: export an object "handlers"/],
    ['an empty handlers object', 'none.mjs', 'export const handlers = {};\n', /^orrery: --handlers none\.mjs: no handler: /],
    ['a Map of handlers', 'map.mjs', 'export const handlers = new Map([["a", async () => true]]);\n', /^orrery: --handlers map\.mjs: export an object "handlers" .*, a plain object, not a Map$/m],
    ['a misnamed export in a .ts compiled to CommonJS', 'typo.ts', 'export const handler = { a: async () => true };\n', /^orrery: --handlers typo\.ts: export an object "handlers" .*; its default export has "handler", which is not a function$/m],
    // tsx's compiler names a .mts, .cts or .tsx file with a .ts extension in its errors: named as given.
    ['a syntax error in a .mts file, named with its own extension', 'syn.mts', 'export const handlers = { a: async ( => true };\n', /^orrery: --handlers syn\.mts: cannot load it: Transform failed with 1 error:\\n\/.*\/syn\.mts:1:37: ERROR: Unexpected "=>"$/m],
    ['a syntax error in a .cts file, named with its own extension', 'syn.cts', 'export const handlers = { a: async ( => true };\n', /\/syn\.cts:1:37: ERROR/],
    ['taskTypes without handlers in a .ts compiled to CommonJS', 'types.ts', 'export const taskTypes = [];\n', /^orrery: --handlers types\.ts: export an object "handlers" mapping backend names to functions \(or "dags"\)$/m],
  ];
  const written = (file: string, source: string) => {
    const dir = tempDir();
    writeFileSync(join(dir, file), source);
    return dir;
  };
  // Through the built CLI, each in its own process: the exit code and the one line.
  const OWN_PROCESS = new Set(['tla.mjs', 'rej.mjs', 'syn.mts', 'typo.ts', 'lazy.cjs']);
  test.concurrent.each(BAD.filter(([, file]) => OWN_PROCESS.has(file)))('orrery worker: %s', async (_what, file, source, message) => {
    const dir = written(file, source);
    const r = await startWorker(['--db', `sqlite:${join(dir, 'o.db')}`, '--handlers', file], dir);
    expect(r.code, r.output).toBe(2);
    expect(r.output).toMatch(message);
    expect(r.output).not.toMatch(/\n\s+at /); // no stack trace
  });
  // The others' messages from the CLI's loader, in one process (the CLI prints them after "orrery: ",
  // on one line: syn.mts's message, two lines, is checked through the CLI only).
  const inOne = BAD.filter(([, file]) => file !== 'tla.mjs' && file !== 'syn.mts');
  let refused: Awaited<ReturnType<typeof loadInOneProcess>> = [];
  beforeAll(async () => {
    refused = await loadInOneProcess(inOne.map(([, file, source]) => ({ dir: written(file, source), file })));
  });
  test.each(inOne.map((r, i) => [...r, i] as const))('%s (its message)', (_what, _file, _source, message, i) => {
    expect(refused[i]!.names).toBeUndefined();
    expect(`orrery: ${refused[i]!.error}`).toMatch(message);
    expect(refused[i]!.error).not.toMatch(/\n\s+at /);
  });
});

test.concurrent.each(['thread', 'process'])('a file that exports other handlers in a handler %s than in the main thread: exit 2 naming both sets, no misleading warning', async (mode) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'diverge.mjs'), "import { isMainThread } from 'node:worker_threads';\nexport const handlers = { a: async () => true, ...(isMainThread && !process.send ? { b: async () => true } : {}) };\n");
  writeFileSync(join(dir, 'fails.mjs'), "import { isMainThread } from 'node:worker_threads';\nif (!isMainThread || process.send) throw new Error('only here');\nexport const handlers = { a: async () => true };\n");
  writeFileSync(join(dir, 'hangs.mjs'), "import { isMainThread } from 'node:worker_threads';\nif (!isMainThread || process.send) await new Promise(() => {});\nexport const handlers = { a: async () => true };\n");
  const r = await startWorker(['--db', `sqlite:${join(dir, 'o.db')}`, '--handlers', 'diverge.mjs', '--isolation', mode], dir);
  expect(r.code, r.output).toBe(2);
  expect(r.output).toMatch(new RegExp(`^orrery: --isolation ${mode}: the handlers file exports other handlers in a ${mode} \\(a\\) than in the main thread \\(a, b\\)$`, 'm'));
  const fails = await startWorker(['--db', `sqlite:${join(dir, 'o.db')}`, '--handlers', 'fails.mjs', '--isolation', mode], dir);
  expect(fails.code, fails.output).toBe(2);
  expect(fails.output).toMatch(/the handlers file does not load in a (thread|process): .*only here/);
  expect(fails.output).not.toMatch(/the next run gets a new one/);
  // A top-level await that never settles in the isolate: one line, no warning.
  const hangs = await startWorker(['--db', `sqlite:${join(dir, 'o.db')}`, '--handlers', 'hangs.mjs', '--isolation', mode], dir);
  expect(hangs.code, hangs.output).toBe(2);
  expect(hangs.output).toMatch(/^orrery: --isolation (thread|process): the handlers file does not load in a (thread|process): --handlers hangs\.mjs: cannot load it: its top-level await never settled/m);
  expect(hangs.output).not.toMatch(/the next run gets a new one/);
  expect(hangs.output.trim().split('\n')).toHaveLength(1);
});
