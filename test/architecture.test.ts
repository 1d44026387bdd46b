import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');

/** Which layers each layer may import (STYLE.md §1: core <- store <- engine <- {http, cli}). */
const ALLOWED: Record<string, string[]> = {
  core: ['core'],
  store: ['core', 'store'],
  worker: ['core', 'worker'],
  engine: ['core', 'store', 'worker', 'engine'],
  http: ['core', 'store', 'worker', 'engine', 'http'],
  // Simulations: the real engine on a virtual clock (docs/simulate.md).
  simulate: ['core', 'store', 'worker', 'engine', 'simulate'],
  cli: ['core', 'store', 'worker', 'engine', 'http', 'simulate', 'cli'],
  // The dashboard: the HTTP client only (STYLE.md §1: http-client <- web), and core types.
  web: ['core', 'http', 'web'],
};

/** What of the http layer the dashboard may use: the typed client, never the server side. */
const HTTP_CLIENT = ['client.ts', 'dag-client.ts', 'visit-client.ts', 'dashboard-client.ts', 'errors.ts', 'connection-checks.ts'].map((f) => join(SRC, 'http', f));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.tsx?$/.test(e.name) && !/\.test\.tsx?$/.test(e.name) ? [p] : [];
  });
}

function localImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? m[2]!);
  return specs.map((s) => {
    const ts = resolve(dirname(file), s.replace(/\.js$/, '.ts'));
    return existsSync(ts) ? ts : ts.replace(/\.ts$/, '.tsx');
  });
}

const layerOf = (file: string) => relative(SRC, file).split('/')[0]!;

describe('architecture', () => {
  const files = sourceFiles(SRC);
  const graph = new Map(files.map((f) => [f, localImports(f)]));

  it('dependencies point one way between layers, and nothing inside src imports src/index.ts', () => {
    const violations: string[] = [];
    for (const [file, deps] of graph) {
      for (const dep of deps) {
        if (dep === join(SRC, 'index.ts')) violations.push(`${relative(SRC, file)} imports src/index.ts`);
        const from = layerOf(file);
        const to = layerOf(dep);
        if (from !== 'index.ts' && ALLOWED[from] && !ALLOWED[from]!.includes(to)) violations.push(`${relative(SRC, file)} (${from}) imports ${relative(SRC, dep)} (${to})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('keeps the dashboard on the HTTP client: src/web imports no server-side http module', () => {
    const web = [...graph].filter(([f]) => layerOf(f) === 'web');
    expect(web.length).toBeGreaterThan(0);
    const server = web.flatMap(([f, deps]) => deps.filter((d) => layerOf(d) === 'http' && !HTTP_CLIENT.includes(d)).map((d) => `${relative(SRC, f)} imports ${relative(SRC, d)}`));
    expect(server).toEqual([]);
  });

  it('has no import cycles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'visiting') {
        cycles.push([...path.slice(path.indexOf(f)), f].map((p) => relative(SRC, p)).join(' -> '));
        return;
      }
      state.set(f, 'visiting');
      for (const d of graph.get(f) ?? []) visit(d, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of files) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it('keeps source files under 800 lines', () => {
    const big = files.filter((f) => readFileSync(f, 'utf8').split('\n').length > 800).map((f) => relative(SRC, f));
    expect(big).toEqual([]);
  });

  it('keeps core pure: no clock, no randomness, no I/O modules', () => {
    const impure = files
      .filter((f) => layerOf(f) === 'core')
      .filter((f) => /Date\.now\(\)|Math\.random\(|new Date\(\)|from 'node:(fs|net|http|child_process)'/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(SRC, f));
    expect(impure).toEqual([]);
  });

  it('docs/architecture.md names every store conformance case file and every sub-port of the Store', () => {
    const doc = readFileSync(join(SRC, '..', 'docs', 'architecture.md'), 'utf8');
    const cases = readdirSync(join(SRC, '..', 'test', 'store')).filter((f) => f.endsWith('.case.ts'));
    expect(cases.length).toBeGreaterThan(0);
    // The sub-ports: the interfaces named *Store that the Store port holds as properties.
    const port = readFileSync(join(SRC, 'store', 'store.ts'), 'utf8');
    const body = port.slice(port.indexOf('export interface Store {'));
    const subPorts = [...body.matchAll(/^\s+readonly \w+: (\w+Store);/gm)].map((m) => m[1]!);
    expect(subPorts.length).toBeGreaterThan(0);
    expect([...cases, ...subPorts].filter((name) => !doc.includes(`\`${name}\``))).toEqual([]);
  });
});
