/**
 * The public API as the docs promise it: every error class the docs name is exported by the
 * package (so callers can `instanceof` it), and the exported classes and option/contract interfaces
 * carry doc comments on every public member.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DOCS = [join(ROOT, 'README.md'), ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(ROOT, 'docs', f))];

/**
 * The interfaces whose every field or method is documented: options and contracts a caller writes
 * or calls. Data records (Task, TaskRun, DAG views...) are described field by field in guide.md
 * and dags.md instead.
 */
const DOCUMENTED_INTERFACES = /Options$|^(OpenOptions|EndRunOptions|Clock|Jobboard|HandlerContext|HandlersModule|ErrorDetail|RunEvent|TaskFilter|TaskPage|DagTaskContext|DagNotifier|DagService|RunningServer)$/;

describe('the public API', () => {
  it('exports every error class the docs name', () => {
    const named = new Set(DOCS.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/\b([A-Z][A-Za-z]*(?:Error|Failure))\b/g)].map((m) => m[1]!)));
    // JavaScript's own (TypeError, SyntaxError...) are not Orrery's to export.
    const ours = [...named].filter((n) => !(n in globalThis));
    expect(ours.length).toBeGreaterThan(5);
    const exported = api as unknown as Record<string, unknown>;
    const missing = ours.filter((n) => !(typeof exported[n] === 'function' && (exported[n] as { prototype: unknown }).prototype instanceof Error));
    expect(missing).toEqual([]);
  });

  it('exports every error class of src/core/errors.ts', async () => {
    const errors = (await import('../../src/core/errors.js')) as Record<string, unknown>;
    const classes = Object.entries(errors).filter(([, v]) => typeof v === 'function' && (v as { prototype: unknown }).prototype instanceof Error).map(([k]) => k);
    expect(classes.filter((c) => !(c in api))).toEqual([]);
  });

  it('documents every public member of the exported classes and of the option and contract interfaces', { timeout: 300_000 }, () => {
    const index = join(ROOT, 'src', 'index.ts');
    const program = ts.createProgram([index], { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, noEmit: true, skipLibCheck: true });
    const checker = program.getTypeChecker();
    const undocumented: string[] = [];
    for (const exp of checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(index)!)!)) {
      const sym = exp.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exp) : exp;
      for (const decl of sym.declarations ?? []) {
        let members: readonly ts.NamedDeclaration[];
        if (ts.isClassDeclaration(decl)) {
          members = decl.members.filter((m) => {
            if (ts.isConstructorDeclaration(m) || (m.name && ts.isPrivateIdentifier(m.name))) return false;
            const flags = ts.getCombinedModifierFlags(m as ts.Declaration);
            return !(flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected | ts.ModifierFlags.Override));
          });
        } else if (ts.isInterfaceDeclaration(decl) && DOCUMENTED_INTERFACES.test(exp.name)) members = decl.members;
        else continue;
        for (const m of members) if (ts.getJSDocCommentsAndTags(m).length === 0) undocumented.push(`${exp.name}.${m.name?.getText() ?? '?'}`);
      }
    }
    expect(undocumented).toEqual([]);
  });
});

// TaskInput.schedule has its union type: a typo does not compile (tsc checks this file).
const typo: api.TaskInput = {
  type: 'report',
  // @ts-expect-error 'cronn' is not a schedule kind
  schedule: { kind: 'cronn', expr: '0 9 * * *' },
};
void typo;
