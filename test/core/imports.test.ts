/**
 * No import circles in src/: parses the import and re-export statements of every source file
 * (type-only imports included: a type that needs its user's file is a circle in the design even
 * when the compiler erases it) and fails naming every strongly connected group of files.
 * The parser is checked on a hand-made graph first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../helpers.js';

/** `from './x.js'` of import/export statements, and `import('./x.js')`, relative ones only. */
const IMPORT_RE = /(?:^|[;\s])(?:import|export)\s[^;'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)|^\s*import\s*['"](\.{1,2}\/[^'"]+)['"]/gm;

/** The .ts files under `dir`, relative to it, with / separators. */
function sourceFiles(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) return sourceFiles(dir, p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Strips comments so that an import written in a doc comment does not count. */
function stripComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/** The src-relative files that `file` imports (a `.js` specifier is the `.ts` source). */
export function importsOf(file: string, code: string): string[] {
  const out = new Set<string>();
  for (const m of stripComments(code).matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2] ?? m[3];
    out.add(path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '.ts'));
  }
  return [...out];
}

/** Strongly connected components with a cycle (Tarjan), each sorted; self-imports count. */
export function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(group.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

test('the cycle finder finds circles and only circles (a hand-made graph)', () => {
  const g = new Map<string, string[]>([
    ['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts', 'd.ts']], ['d.ts', []], ['e.ts', ['e.ts']], ['f.ts', ['d.ts']],
  ]);
  assert.deepEqual(cycles(g), [['a.ts', 'b.ts', 'c.ts'], ['e.ts']]);
  assert.deepEqual(cycles(new Map([['x.ts', ['y.ts']], ['y.ts', []]])), []);
});

test('the import parser reads import, import type, export from and dynamic import, not comments', () => {
  const code = [
    "import * as tf from '@tensorflow/tfjs';",
    "import { a } from './a.js';",
    "import type { B } from '../core/b.js';",
    "export { c } from './c.js';",
    "export * from './d.js';",
    "import {\n  e,\n  f,\n} from './ef.js';",
    "const g = await import('./g.js');",
    "import './side.js';",
    "// import { no } from './comment.js';",
    "/** see import { no } from './doc.js' */",
  ].join('\n');
  assert.deepEqual(importsOf('mnist/train.ts', code).sort(),
    ['core/b.ts', 'mnist/a.ts', 'mnist/c.ts', 'mnist/d.ts', 'mnist/ef.ts', 'mnist/g.ts', 'mnist/side.ts']);
});

test('src/ has no import circles', () => {
  const src = path.join(ROOT, 'src');
  const graph = new Map(sourceFiles(src).map((f) => [f, importsOf(f, readFileSync(path.join(src, f), 'utf8'))]));
  assert.ok(graph.size > 50, `found only ${graph.size} source files under ${src}`);
  const found = cycles(graph);
  assert.deepEqual(found, [], `import circles in src/ (each line one group of files that import each other):\n${found.map((c) => c.join(' <-> ')).join('\n')}`);
});
