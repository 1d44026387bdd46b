/**
 * Every TypeScript block of README.md and docs/*.md compiles against the package's public API, and
 * the blocks marked runnable run (docs/architecture.md, "Code blocks in the docs"). The blocks import
 * from 'orrery', mapped to src/index.ts; they are type-checked together in one program.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const INDEX = join(ROOT, 'src', 'index.ts');
const work = mkdtempSync(join(tmpdir(), 'orrery-doc-blocks-'));
// Blocks may also import the package's dependencies (docs/tracing.md imports @opentelemetry/*): they
// resolve from the checkout's node_modules, as an application's would from its own.
symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'), 'dir');
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Block {
  /** `docs/dags.md:180`: the file and the line of its opening fence. */
  where: string;
  code: string;
  runnable: boolean;
  fragment: boolean;
}

/** The ```ts / ```typescript blocks of a Markdown file, with the words after the language. */
export function codeBlocks(file: string): Block[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|typescript)((?:\s+\w+)*)\s*$/.exec(lines[i]!);
    if (!open) {
      if (/^```/.test(lines[i]!)) while (++i < lines.length && !/^```\s*$/.test(lines[i]!));
      continue;
    }
    const start = i;
    const body: string[] = [];
    while (++i < lines.length && !/^```\s*$/.test(lines[i]!)) body.push(lines[i]!);
    const words = open[2]!.trim().split(/\s+/);
    blocks.push({ where: `${relative(ROOT, file)}:${start + 1}`, code: body.join('\n'), runnable: words.includes('runnable'), fragment: words.includes('fragment') });
  }
  return blocks;
}

const files = [join(ROOT, 'README.md'), ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(ROOT, 'docs', f))];
const blocks = files.flatMap(codeBlocks);
const fileName = (b: Block) => join(work, `${b.where.replace(/[^\w]+/g, '_')}.ts`);

/**
 * A block is an ES module of its own. One that uses `orrery` without defining it continues the
 * guide's running example: it gets `declare const orrery: Orrery` (an open service).
 */
function moduleText(b: Block): string {
  const prelude = /\borrery\./.test(b.code) && !/\b(const|let|var)\s+orrery\b/.test(b.code) ? "import type { Orrery as OrreryService } from 'orrery';\ndeclare const orrery: OrreryService;\n" : '';
  return `${prelude}${b.code}\nexport {};\n`;
}

describe('TypeScript blocks of README.md and docs/', () => {
  it('finds the blocks, few of them fragments', () => {
    expect(blocks.length).toBeGreaterThan(5);
    expect(blocks.filter((b) => b.runnable).length).toBeGreaterThan(0);
    expect(blocks.filter((b) => b.fragment).map((b) => b.where)).toEqual([]);
  });

  // The timeout guards against a hang only: one program, a few seconds of CPU.
  it('type-check against the public API (orrery -> src/index.ts)', { timeout: 300_000 }, () => {
    writeFileSync(join(work, 'package.json'), JSON.stringify({ type: 'module' }));
    const checked = blocks.filter((b) => !b.fragment);
    for (const b of checked) writeFileSync(fileName(b), moduleText(b));
    const program = ts.createProgram(
      checked.map(fileName),
      {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules', '@types')],
        paths: { orrery: [INDEX] },
      },
    );
    // Diagnostics of the blocks only: the checker then reads of src/ only what the blocks use.
    const errors = checked
      .flatMap((b) => ts.getPreEmitDiagnostics(program, program.getSourceFile(fileName(b))))
      .map((d) => {
        const block = checked.find((b) => fileName(b) === d.file!.fileName)!;
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
        const preludeLines = moduleText(block).slice(0, moduleText(block).indexOf(block.code)).split('\n').length - 1;
        return `${block.where} (block line ${line + 1 - preludeLines}): ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
    expect(errors).toEqual([]);
  });

  describe('runnable blocks run to their end', () => {
    for (const b of blocks.filter((x) => x.runnable)) {
      it(b.where, { timeout: 120_000 }, async () => {
        const dir = mkdtempSync(join(work, 'run-'));
        writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
        const file = join(dir, 'block.ts');
        writeFileSync(file, b.code.replace(/from 'orrery'/g, `from ${JSON.stringify(INDEX)}`));
        const tsx = pathToFileURL(join(ROOT, 'node_modules', 'tsx', JSON.parse(readFileSync(join(ROOT, 'node_modules', 'tsx', 'package.json'), 'utf8')).exports['.'])).href;
        const r = await new Promise<{ code: number | null; output: string }>((resolve) => {
          const child = spawn(process.execPath, ['--import', tsx, file], { cwd: dir, env: { ...process.env, ORRERY_DB: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
          let output = '';
          child.stdout.on('data', (d: Buffer) => (output += d.toString()));
          child.stderr.on('data', (d: Buffer) => (output += d.toString()));
          child.on('close', (code) => resolve({ code, output }));
        });
        expect(r.code, r.output).toBe(0);
      });
    }
  });
});
