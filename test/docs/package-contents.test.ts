/**
 * What `npm pack` puts in the published package: everything the code reads at run time beside its
 * modules (migrations, the dashboard, the isolate entry), the documented entries, and the docs the
 * README and the CLI's help point to.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

describe('the published package', () => {
  const packed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as Array<{ files: Array<{ path: string }> }>;
  const files = new Set(packed[0]!.files.map((f) => f.path));

  it('holds the entries, the bin, the isolate entry, both stores\' migrations and the dashboard', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; exports: Record<string, Record<string, string>> };
    for (const entry of Object.values(pkg.exports).flatMap((e) => Object.values(e))) expect(files, entry).toContain(entry.replace(/^\.\//, ''));
    for (const bin of Object.values(pkg.bin)) expect(files).toContain(bin);
    expect(files).toContain('dist/worker/isolation/isolate-entry.js');
    for (const store of ['sqlite', 'postgres']) {
      for (const m of readdirSync(join(ROOT, 'src', 'store', store, 'migrations'))) expect(files).toContain(`dist/store/${store}/migrations/${m}`);
    }
    expect(files).toContain('dist/web/index.html');
    expect([...files].some((f) => /^dist\/web\/assets\/.+\.js$/.test(f))).toBe(true);
    expect(files).toContain('examples/handlers.ts');
    expect(files).toContain('LICENSE'); // MIT asks for its notice in every copy
  });

  it('ships source maps that carry their sources (src/ is not in the package)', () => {
    expect([...files].some((f) => f.startsWith('src/'))).toBe(false);
    const maps = [...files].filter((f) => f.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(100);
    for (const f of maps) {
      const map = JSON.parse(readFileSync(join(ROOT, f), 'utf8')) as { sources: string[]; sourcesContent?: Array<string | null> };
      expect(map.sourcesContent?.length, f).toBe(map.sources.length);
      expect(map.sourcesContent!.every((c) => typeof c === 'string' && c.length > 0), f).toBe(true);
    }
  });

  it('holds every file of this repository the README links to under docs/', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\((docs\/[^)#\s]+)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(5);
    for (const link of links) expect(files, link).toContain(link);
  });

  // The timeout guards against a hang, not a pace: the compile took 107 s on a 2-core machine at a load average of 16.
  it('typechecks in a strict consumer that has only what installing the package brings (its dependencies, not its devDependencies)', { timeout: 240_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'orrery-installed-'));
    try {
      // The package's own files as npm would unpack them (its declarations are what a consumer reads)...
      const pkg = join(dir, 'node_modules', 'orrery');
      for (const f of ['package.json', 'dist']) cpSync(join(ROOT, f), join(pkg, f), { recursive: true, filter: (src) => !/\.(js|map)$/.test(src) || src.endsWith('.d.ts') });
      // ...and every package the install brings: the lock's packages that are not dev-only, hoisted.
      const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
      for (const [path, entry] of Object.entries(lock.packages)) {
        if (path === '' || entry.dev || path.split('node_modules/').length !== 2) continue;
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        symlinkSync(join(ROOT, path), join(dir, path));
      }
      const app = join(dir, 'app.mts');
      const kinds = [
        // tsc --init's defaults for a CommonJS project include esModuleInterop.
        { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, esModuleInterop: true },
        { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext },
        { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler },
        // A CommonJS file under NodeNext (README: what CommonJS TypeScript uses; node16 refuses it, TS1479).
        { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, cjs: true },
      ];
      // Parsed files are shared between the three programs (each parse is of the same text). Every file
      // the consumer's compiler reads is checked under NodeNext; under the other two kinds, the package's
      // own declarations and the consumer's file (where a type the install does not bring shows up): the
      // same dependencies' declarations checked again cost about two thirds of the test.
      const parsed = new Map<string, ts.SourceFile | undefined>();
      for (const kind of kinds) {
        const { cjs, ...compiler } = { cjs: false, ...kind };
        const file = kind.module === ts.ModuleKind.CommonJS ? join(dir, 'app.ts') : cjs ? join(dir, 'app.cts') : app;
        ts.sys.writeFile(file, "import * as orrery from 'orrery';\nimport * as worker from 'orrery/worker';\nexport const names: string[] = [...Object.keys(orrery), ...Object.keys(worker)];\n");
        const options = { ...compiler, strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, skipLibCheck: false };
        const host = ts.createCompilerHost(options);
        const read = host.getSourceFile.bind(host);
        host.getSourceFile = (name, version, ...rest) => {
          const key = `${name}\0${JSON.stringify(version)}`;
          if (name === file) return read(name, version, ...rest);
          if (!parsed.has(key)) parsed.set(key, read(name, version, ...rest));
          return parsed.get(key);
        };
        const program = ts.createProgram([file], options, host);
        const everything = kind.moduleResolution === ts.ModuleResolutionKind.NodeNext && !cjs;
        const checked = program.getSourceFiles().filter((f) => everything || !f.fileName.startsWith(join(dir, 'node_modules')) || f.fileName.startsWith(pkg));
        expect(checked.some((f) => f.fileName === join(pkg, 'dist', 'index.d.ts'))).toBe(true);
        const diagnostics = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics(), ...checked.flatMap((f) => [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)])];
        const problems = diagnostics.map((d) => `${d.file ? `${d.file.fileName.slice(dir.length)}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
        expect(problems, `${ts.ModuleResolutionKind[kind.moduleResolution]}${cjs ? ' (CommonJS file)' : ''}`).toEqual([]);
        rmSync(file);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('resolves the types of both entries in a consumer under every moduleResolution', () => {
    const dir = mkdtempSync(join(tmpdir(), 'orrery-consumer-'));
    try {
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(ROOT, join(dir, 'node_modules', 'orrery'));
      const from = join(dir, 'app.mts');
      const kinds = [
        [ts.ModuleResolutionKind.Node10, ts.ModuleKind.CommonJS],
        [ts.ModuleResolutionKind.Node16, ts.ModuleKind.Node16],
        [ts.ModuleResolutionKind.NodeNext, ts.ModuleKind.NodeNext],
        [ts.ModuleResolutionKind.Bundler, ts.ModuleKind.ESNext],
      ] as const;
      for (const [moduleResolution, module] of kinds) {
        for (const [name, types] of [['orrery', 'dist/index.d.ts'], ['orrery/worker', 'dist/worker-entry.d.ts']]) {
          const r = ts.resolveModuleName(name!, from, { moduleResolution, module, strict: true }, ts.sys);
          expect(r.resolvedModule?.resolvedFileName, `${name} with ${ts.ModuleResolutionKind[moduleResolution]}`).toMatch(new RegExp(`${types!.replace('.', '\\.')}$`));
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
