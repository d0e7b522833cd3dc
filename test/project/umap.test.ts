import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runCli, tempDir } from '../helpers.js';
import { createRng } from '../../src/core/rng.js';
import { knnAccuracy } from '../../src/project/metrics.js';
import { umap, UMAP_DEFAULTS } from '../../src/project/umap.js';

/** `per` points around each of `k` centres 8 apart in `dim` dimensions, seeded. */
function blobs(k: number, per: number, dim: number, seed: number) {
  const rng = createRng(seed);
  const points: number[][] = [];
  const labels: number[] = [];
  for (let c = 0; c < k; c++) {
    const centre = Array.from({ length: dim }, () => 8 * rng.normal());
    for (let i = 0; i < per; i++) {
      points.push(centre.map((v) => v + rng.normal()));
      labels.push(c);
    }
  }
  return { points, labels };
}

const rows = (y: Float64Array) => Array.from({ length: y.length / 2 }, (_, i) => [y[2 * i], y[2 * i + 1]]);

test('UMAP separates Gaussian clusters, is deterministic for a seed, and the seed matters', () => {
  const { points, labels } = blobs(4, 40, 8, 1);
  const opts = { ...UMAP_DEFAULTS, seed: 5 };
  const a = umap(points, opts);
  assert.equal(a.length, 2 * points.length);
  assert.ok(a.every(Number.isFinite));
  assert.ok(knnAccuracy(rows(a), labels, 5) >= 0.99);
  assert.deepEqual(umap(points, opts), a);
  assert.notDeepEqual(umap(points, { ...opts, seed: 6 }), a);
});

test('UMAP draws every random number from the seeded generator, never Math.random', () => {
  const { points } = blobs(2, 20, 3, 2);
  const saved = Math.random;
  Math.random = () => {
    throw new Error('Math.random called');
  };
  try {
    umap(points, { nNeighbors: 5, minDist: 0.1, seed: 1 });
  } finally {
    Math.random = saved;
  }
});

test('UMAP min-dist: a larger minimum distance spreads each cluster wider', () => {
  const { points, labels } = blobs(3, 40, 5, 3);
  // mean distance of a point to its cluster's centroid, relative to the spread of the whole layout
  const spread = (y: Float64Array) => {
    let within = 0;
    let total = 0;
    const all = [0, 0];
    for (let i = 0; i < labels.length; i++) all.forEach((_, d) => (all[d] += y[2 * i + d] / labels.length));
    for (const c of [0, 1, 2]) {
      const idx = labels.map((l, i) => (l === c ? i : -1)).filter((i) => i >= 0);
      const m = [0, 1].map((d) => idx.reduce((s, i) => s + y[2 * i + d], 0) / idx.length);
      for (const i of idx) within += Math.hypot(y[2 * i] - m[0], y[2 * i + 1] - m[1]);
    }
    for (let i = 0; i < labels.length; i++) total += Math.hypot(y[2 * i] - all[0], y[2 * i + 1] - all[1]);
    return within / total;
  };
  const tight = spread(umap(points, { nNeighbors: 15, minDist: 0, seed: 1 }));
  const loose = spread(umap(points, { nNeighbors: 15, minDist: 0.9, seed: 1 }));
  assert.ok(loose > 1.5 * tight, `within-cluster spread: min-dist 0.9 ${loose.toFixed(3)} vs 0 ${tight.toFixed(3)}`);
});

test('UMAP refuses impossible settings', () => {
  const { points } = blobs(2, 5, 3, 4);
  assert.throws(() => umap(points, { nNeighbors: 10, minDist: 0.1, seed: 1 }), /nNeighbors = 10 needs 2 <= nNeighbors < n = 10/);
  assert.throws(() => umap(points, { nNeighbors: 1, minDist: 0.1, seed: 1 }), RangeError);
  assert.throws(() => umap(points, { nNeighbors: 5, minDist: -1, seed: 1 }), /minDist/);
});

test('project --method umap: the same seed gives identical coordinates in two processes, another seed others', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'b.csv');
  const { points, labels } = blobs(3, 30, 6, 5);
  writeFileSync(file, ['f0,f1,f2,f3,f4,f5,label', ...points.map((p, i) => `${p.join(',')},c${labels[i]}`)].join('\n') + '\n');
  const run = async (seed: string, out: string) => {
    const res = await runCli(['project', file, '--method', 'umap', '--neighbors', '10', '--min-dist', '0.2', '--seed', seed, '--out', path.join(dir, out)]);
    assert.equal(res.code, 0, res.stderr);
    return readFileSync(path.join(dir, out, 'embed-umap.csv'), 'utf8');
  };
  const [a, b, c] = await Promise.all([run('7', 'a'), run('7', 'b'), run('8', 'c')]);
  assert.equal(a, b);
  assert.notEqual(a, c);
  const svg = readFileSync(path.join(dir, 'a', 'embed-umap.svg'), 'utf8');
  for (const text of ['UMAP: b.csv', 'UMAP 1', '10 neighbours, min-dist 0.2, seed 7', 'true label', 'c2']) assert.ok(svg.includes(text), `plot lacks '${text}'`);
});

test('UMAP copes with degenerate inputs: identical points, duplicates, 1-D and 300-D rows, 3 points', () => {
  const cases: [string, number[][]][] = [
    ['identical', Array.from({ length: 50 }, () => [1, 2, 3])],
    ['duplicates', Array.from({ length: 60 }, (_, i) => [i % 20, (i * 7) % 20])],
    ['1-D', Array.from({ length: 40 }, (_, i) => [i])],
    ['300-D', Array.from({ length: 40 }, (_, i) => Array.from({ length: 300 }, (_, d) => Math.sin(i * d)))],
    ['3 points', [[0, 0], [1, 0], [0, 1]]],
  ];
  for (const [name, pts] of cases) {
    const y = umap(pts, { nNeighbors: Math.min(15, pts.length - 1), minDist: 0.1, seed: 1 });
    assert.equal(y.length, 2 * pts.length, name);
    assert.ok(y.every(Number.isFinite), `${name}: non-finite coordinates`);
  }
});
