import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, runCli, tempDir } from '../helpers.js';
import { createRng } from '../../src/core/rng.js';
import { UsageError } from '../../src/core/errors.js';
import {
  flagOf, methodsOf, PROJECTION_CHOICES, PROJECTION_METHODS, PROJECTIONS, projectFeatures, resolveOptions, validateProjectionInput,
} from '../../src/project/index.js';

/** Two classes 5 apart along one axis each, in 4-D, seeded. */
function twoClasses(n = 60) {
  const rng = createRng(11);
  const points = Array.from({ length: n }, (_, i) => Float32Array.from({ length: 4 }, (_, j) => (j === i % 2 ? 5 : 0) + rng.normal()));
  return { points, labels: points.map((_, i) => i % 2) };
}

/** The same contract for every registered projection: n x 2 finite coordinates, metrics in range, inputs untouched, deterministic. */
for (const method of PROJECTION_METHODS) {
  test(`projection '${method}' honours the contract`, async (t) => {
    const dir = tempDir(t);
    const { points, labels } = twoClasses();
    const copy = points.map((p) => p.slice());
    const summary = await projectFeatures({ points, labels, method, outDir: dir, title: 'contract', seed: 1, perplexity: 5, iterations: 300, quiet: true });
    assert.equal(summary.results.length, 1);
    const r = summary.results[0];
    assert.equal(r.method, method);
    assert.ok(r.trustworthiness >= 0 && r.trustworthiness <= 1);
    assert.ok(r.knnAccuracy !== null && r.knnAccuracy >= 0.9, `two separated classes: ${r.knnAccuracy}`);
    assert.deepEqual(Object.keys(r.settings).sort(), PROJECTIONS[method].options.map((o) => o.key).sort(), 'the settings used are reported');
    const rows = readFileSync(path.join(dir, `embed-${method}.csv`), 'utf8').trim().split('\n').slice(1);
    assert.equal(rows.length, 60);
    for (const row of rows) {
      const [, , , x, y] = row.split(',');
      assert.ok(Number.isFinite(Number(x)) && Number.isFinite(Number(y)));
    }
    points.forEach((p, i) => assert.deepEqual(p, copy[i], 'points not mutated'));
    // the embed hook itself: [n * 2], same seed -> same bits
    const opts = resolveOptions(method, { perplexity: 5, iterations: 300 });
    const a = PROJECTIONS[method].embed(points, opts, { seed: 3 });
    const b = PROJECTIONS[method].embed(points, opts, { seed: 3 });
    assert.equal(a.coords.length, 2 * points.length);
    assert.deepEqual(a.coords, b.coords, 'deterministic for a seed');
    assert.ok(['equal', 'hidden'].includes(a.axes));
  });
}

test('method lists: names, aliases and comma lists resolve through the registry; unknown names are usage errors', () => {
  assert.deepEqual(PROJECTION_CHOICES, [...PROJECTION_METHODS, 'both']);
  assert.deepEqual(methodsOf('both'), ['pca', 'tsne']);
  assert.deepEqual(methodsOf('pca,tsne,umap'), ['pca', 'tsne', 'umap']);
  assert.deepEqual(methodsOf(' umap , both,pca '), ['umap', 'pca', 'tsne'], 'order kept, each once');
  assert.deepEqual(methodsOf(['tsne', 'umap']), ['tsne', 'umap']);
  assert.throws(() => methodsOf('pca,isomap'), (e: unknown) => e instanceof UsageError && /unknown projection method 'isomap'; use pca, tsne or umap/.test(e.message));
  assert.throws(() => methodsOf(','), UsageError);
});

test('options: defaults from the registry, ranges checked with the flag named', () => {
  assert.deepEqual(resolveOptions('umap', {}), { neighbors: 15, minDist: 0.1 });
  assert.deepEqual(resolveOptions('tsne', { perplexity: 12 }), { perplexity: 12, iterations: 1000 });
  assert.deepEqual(resolveOptions('pca', { perplexity: 12 }), {});
  assert.equal(flagOf('minDist'), '--min-dist');
  assert.throws(() => resolveOptions('umap', { neighbors: 1 }), /--neighbors must be a whole number in \[2, 1000\], got 1/);
  assert.throws(() => resolveOptions('umap', { neighbors: 7.5 }), /--neighbors/);
  assert.throws(() => resolveOptions('umap', { minDist: 2 }), /--min-dist must be a number in \[0, 1\], got 2/);
  // each method's own check, before anything is computed
  const { points, labels } = twoClasses(12);
  assert.throws(() => validateProjectionInput({ points, labels, method: 'umap' }, 'x.csv'), /x\.csv: 12 points are too few for UMAP with 15 neighbours .*lower --neighbors to 11 or less/);
  assert.throws(() => validateProjectionInput({ points, labels, method: 'pca,tsne' }, 'x.csv'), /too few for t-SNE with perplexity 30/);
  validateProjectionInput({ points, labels, method: 'pca,umap', options: { neighbors: 5 } }, 'x.csv');
});

test('project --help lists every registered method and option (one source of names)', async () => {
  const res = await runCli(['project', '--help']);
  assert.equal(res.code, 0, res.stderr);
  const help = res.stdout.replace(/\s+/g, ' ');
  for (const m of PROJECTION_METHODS) {
    assert.ok(help.includes(`${m}: ${PROJECTIONS[m].description}`.replace(/\s+/g, ' ')), `help lacks ${m}`);
    for (const o of PROJECTIONS[m].options) assert.ok(help.includes(flagOf(o.key)), `help lacks ${flagOf(o.key)}`);
  }
});

test('no module branches on a projection method name', () => {
  const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
  const names = PROJECTION_METHODS.join('|');
  // a variable holding a method (method, embedPlot, projection...) compared with a method's name
  const branch = new RegExp(`\\w*(method|embedplot|projection)\\w*\\s*(===|!==)\\s*'(${names})'|'(${names})'\\s*(===|!==)\\s*\\w*(method|embedplot|projection)|case\\s+'(${names})'`, 'i');
  const offenders = files(path.join(ROOT, 'src')).filter((f) => branch.test(readFileSync(f, 'utf8'))).map((f) => path.relative(ROOT, f));
  assert.deepEqual(offenders, []);
});
