import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { createRng } from '../../src/core/rng.js';
import { UsageError } from '../../src/core/errors.js';
import { knnAccuracy } from '../../src/project/metrics.js';
import { TSNE_DEFAULTS, conditionalProbabilities, symmetrise, tsne } from '../../src/project/tsne.js';
import { QuadTree, repulsion } from '../../src/project/tsne_bh.js';
import { knnAll } from '../../src/project/knn.js';
import { flattenPoints, principalAxes } from '../../src/project/linalg.js';
import { requireOracle, tempDir } from '../helpers.js';

/** `perCluster` points around each of `clusters` centres 10 apart in `dim` dimensions, seeded. */
function blobs(clusters: number, perCluster: number, dim: number, seed: number) {
  const rng = createRng(seed);
  const points: number[][] = [];
  const labels: number[] = [];
  for (let c = 0; c < clusters; c++) {
    const centre = Array.from({ length: dim }, () => 10 * rng.normal());
    for (let i = 0; i < perCluster; i++) {
      points.push(centre.map((v) => v + rng.normal()));
      labels.push(c);
    }
  }
  return { points, labels };
}

const rows = (y: Float64Array) => Array.from({ length: y.length / 2 }, (_, i) => [y[2 * i], y[2 * i + 1]]);

test('t-SNE separates well-separated Gaussian clusters (2-D 5-NN accuracy ~1)', () => {
  const { points, labels } = blobs(4, 60, 10, 1);
  const y = tsne(points, { ...TSNE_DEFAULTS, perplexity: 15 });
  assert.equal(y.length, 2 * points.length);
  assert.ok(y.every(Number.isFinite));
  const acc = knnAccuracy(rows(y), labels, 5);
  assert.ok(acc >= 0.99, `5-NN accuracy in 2-D ${acc}`);
});

test('t-SNE is deterministic for a seed, and the seed matters for random init', () => {
  const { points } = blobs(3, 40, 5, 2);
  const opts = { ...TSNE_DEFAULTS, perplexity: 10, iterations: 300 };
  assert.deepEqual(tsne(points, opts), tsne(points, opts));
  const r1 = tsne(points, { ...opts, init: 'random', seed: 1 });
  assert.deepEqual(r1, tsne(points, { ...opts, init: 'random', seed: 1 }));
  assert.notDeepEqual(r1, tsne(points, { ...opts, init: 'random', seed: 2 }));
});

test('t-SNE reports progress and does not mutate its input', () => {
  const { points } = blobs(2, 30, 3, 3);
  const copy = points.map((r) => r.slice());
  const seen: number[] = [];
  tsne(points, { ...TSNE_DEFAULTS, perplexity: 5, iterations: 260, onProgress: (it, total) => (assert.equal(total, 260), seen.push(it)) });
  assert.deepEqual(points, copy);
  assert.equal(seen[seen.length - 1], 260);
  assert.deepEqual(seen.slice(0, 3), [10, 20, 30]);
});

test('t-SNE validates its inputs with usage errors', () => {
  const { points } = blobs(2, 20, 3, 4);
  const bad = (opts: Partial<typeof TSNE_DEFAULTS>, pts: number[][] = points) => () => tsne(pts, { ...TSNE_DEFAULTS, ...opts });
  assert.throws(bad({ perplexity: 30 }), (e: unknown) => e instanceof UsageError && /40 points are too few for perplexity 30/.test(e.message));
  assert.throws(bad({ perplexity: 0 }), UsageError);
  assert.throws(bad({ perplexity: 5, iterations: 0 }), /iterations/);
  assert.throws(bad({ perplexity: 5, learningRate: -1 }), /learning rate/);
  assert.throws(bad({ perplexity: 5, theta: 2 }), /theta/);
  assert.throws(bad({ perplexity: 5, init: 'spectral' as 'pca' }), /init/);
  assert.throws(bad({ perplexity: 5 }, points.map((r, i) => (i === 7 ? r.slice(1) : r))), (e: unknown) => e instanceof UsageError && /row 7/.test(e.message));
  assert.throws(bad({ perplexity: 5 }, points.map((r, i) => (i === 3 ? [r[0], NaN, r[2]] : r))), /row 3, feature 1 is NaN/);
  assert.throws(bad({ perplexity: 5 }, []), UsageError);
});

test('exact k-NN (k-d tree on principal axes) equals brute force, ties by index', () => {
  const rng = createRng(5);
  for (const dim of [1, 2, 7, 300]) {
    const n = dim === 300 ? 60 : 400;
    // integer-valued coordinates give many exact distance ties
    const pts = Array.from({ length: n }, () => Array.from({ length: dim }, () => (dim <= 2 ? rng.int(30) : rng.normal())));
    const k = 12;
    const res = knnAll(flattenPoints(pts), k);
    for (let i = 0; i < n; i++) {
      const d = pts.map((p, j) => [Math.hypot(...p.map((v, c) => v - pts[i][c])), j]).filter(([, j]) => j !== i);
      d.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      for (let a = 0; a < k; a++) {
        assert.ok(Math.abs(res.distances[i * k + a] - d[a][0]) < 1e-9, `dim ${dim} row ${i} rank ${a}`);
        if (dim <= 2) assert.equal(res.indices[i * k + a], d[a][1], `dim ${dim} row ${i} rank ${a}`);
      }
    }
  }
});

test('principal axes diagonalise the covariance, by decreasing variance', () => {
  const rng = createRng(6);
  const pts = Array.from({ length: 500 }, () => {
    const a = 3 * rng.normal(), b = rng.normal(), c = 0.2 * rng.normal();
    return [a + b, a - b, c, a + c];
  });
  const x = flattenPoints(pts);
  const { axes, variances } = principalAxes(x);
  const dim = 4;
  for (let c = 1; c < dim; c++) assert.ok(variances[c - 1] >= variances[c]);
  // axes orthonormal and variance along each axis = its eigenvalue
  for (let a = 0; a < dim; a++) {
    for (let b = 0; b < dim; b++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += axes[a * dim + d] * axes[b * dim + d];
      assert.ok(Math.abs(s - (a === b ? 1 : 0)) < 1e-10);
    }
    const proj = pts.map((p) => p.reduce((s, v, d) => s + v * axes[a * dim + d], 0));
    const m = proj.reduce((s, v) => s + v, 0) / proj.length;
    const v = proj.reduce((s, p) => s + (p - m) ** 2, 0) / proj.length;
    assert.ok(Math.abs(v - variances[a]) < 1e-8 * (1 + v));
  }
});

test('joint probabilities: each row hits the perplexity, P symmetric and summing to 1', () => {
  const { points } = blobs(3, 30, 4, 7);
  const x = flattenPoints(points);
  const k = 20;
  const knn = knnAll(x, k);
  const cond = conditionalProbabilities(knn.distances, x.n, k, 6);
  for (let i = 0; i < x.n; i++) {
    let h = 0;
    for (let a = 0; a < k; a++) {
      const p = cond[i * k + a];
      if (p > 0) h -= p * Math.log(p);
    }
    assert.ok(Math.abs(Math.exp(h) - 6) < 1e-3, `row ${i} perplexity ${Math.exp(h)}`);
  }
  const P = symmetrise(cond, knn.indices, x.n, k);
  const get = (i: number, j: number) => {
    for (let e = P.rowPtr[i]; e < P.rowPtr[i + 1]; e++) if (P.cols[e] === j) return P.vals[e];
    return 0;
  };
  let total = 0;
  for (let i = 0; i < x.n; i++) {
    for (let e = P.rowPtr[i]; e < P.rowPtr[i + 1]; e++) {
      total += P.vals[e];
      assert.equal(P.vals[e], get(P.cols[e], i));
      if (e > P.rowPtr[i]) assert.ok(P.cols[e] > P.cols[e - 1]);
    }
  }
  assert.ok(Math.abs(total - 1) < 1e-12);
});

test('Barnes-Hut repulsion: exact at theta 0, close at theta 0.5', () => {
  const rng = createRng(8);
  const n = 700;
  const y = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    y[2 * i] = 20 * (i % 4) + 3 * rng.normal();
    y[2 * i + 1] = 3 * rng.normal();
  }
  y[2] = y[0]; // an exact duplicate pair
  y[3] = y[1];
  const exact = new Float64Array(2 * n);
  let z = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
      const q = 1 / (1 + dx * dx + dy * dy);
      z += q;
      exact[2 * i] += q * q * dx;
      exact[2 * i + 1] += q * q * dy;
    }
  }
  for (const [theta, tol] of [[0, 1e-12], [0.5, 0.03]]) {
    const tree = new QuadTree(n);
    tree.build(y, theta);
    const f = new Float64Array(2 * n);
    const zz = repulsion(tree.nodes, tree.size, tree.sx, tree.sy, tree.ids, f, 0, n);
    let err = 0, norm = 0;
    for (let p = 0; p < 2 * n; p++) {
      err += (f[p] - exact[p]) ** 2;
      norm += exact[p] ** 2;
    }
    assert.ok(Math.abs(zz - z) / z < tol, `theta ${theta}: Z ${zz} vs ${z}`);
    assert.ok(Math.sqrt(err / norm) < tol, `theta ${theta}: relative force error ${Math.sqrt(err / norm)}`);
  }
});

test('t-SNE gives bit-identical results on 1 and 2 threads', () => {
  const { points } = blobs(3, 50, 6, 9);
  const opts = { ...TSNE_DEFAULTS, perplexity: 10, iterations: 300 };
  const one = tsne(points, { ...opts, threads: 1 });
  const two = tsne(points, { ...opts, threads: 2 });
  assert.deepEqual(two, one);
  assert.throws(() => tsne(points, { ...opts, threads: 0 }), /threads/);
});

test('k-NN on a worker thread equals the single-thread search', () => {
  const rng = createRng(10);
  const pts = Array.from({ length: 2500 }, () => Array.from({ length: 5 }, () => rng.normal()));
  const x = flattenPoints(pts);
  const one = knnAll(x, 8, undefined, 1);
  const two = knnAll(x, 8, undefined, 2);
  assert.deepEqual(two.indices, one.indices);
  assert.deepEqual(two.distances, one.distances);
});

test('joint probabilities match scikit-learn (_joint_probabilities_nn on the 3*perplexity+1 neighbours)', (t) => {
  const py = requireOracle(t, ['sklearn']);
  if (!py) return;
  const { points } = blobs(3, 40, 5, 11);
  const perplexity = 8;
  const dir = tempDir(t);
  const file = path.join(dir, 'x.json');
  writeFileSync(file, JSON.stringify(points));
  const script = [
    'import json, sys',
    'import numpy as np',
    'from sklearn.neighbors import NearestNeighbors',
    'from sklearn.manifold._t_sne import _joint_probabilities_nn',
    'X = np.array(json.load(open(sys.argv[1])))',
    `k = min(X.shape[0] - 1, int(3.0 * ${perplexity} + 1))`,
    'D = NearestNeighbors(n_neighbors=k).fit(X).kneighbors_graph(mode="distance")',
    'D.data **= 2',
    `P = _joint_probabilities_nn(D, ${perplexity}, 0)`,
    'print(json.dumps(P.toarray().tolist()))',
  ].join('\n');
  const r = spawnSync(py, ['-c', script, file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr);
  const expected: number[][] = JSON.parse(r.stdout);
  const x = flattenPoints(points);
  const k = Math.floor(3 * perplexity + 1);
  const knn = knnAll(x, k);
  const P = symmetrise(conditionalProbabilities(knn.distances, x.n, k, perplexity), knn.indices, x.n, k);
  let maxErr = 0;
  let maxP = 0;
  for (let i = 0; i < x.n; i++) {
    const row = new Float64Array(x.n);
    for (let e = P.rowPtr[i]; e < P.rowPtr[i + 1]; e++) row[P.cols[e]] = P.vals[e];
    for (let j = 0; j < x.n; j++) {
      maxErr = Math.max(maxErr, Math.abs(row[j] - expected[i][j]));
      maxP = Math.max(maxP, expected[i][j]);
    }
  }
  // sklearn runs the bisection in float32, so agreement is to float32 precision
  assert.ok(maxErr < 1e-5 * maxP, `max |P - P_sklearn| = ${maxErr} (max P ${maxP})`);
});

test('t-SNE copes with degenerate inputs: identical points, duplicates, 1-D and 300-D rows', () => {
  const opts = { ...TSNE_DEFAULTS, perplexity: 5, iterations: 300 };
  const cases: [string, number[][]][] = [
    ['identical', Array.from({ length: 50 }, () => [1, 2, 3])],
    ['duplicates', Array.from({ length: 60 }, (_, i) => [i % 20, (i * 7) % 20])],
    ['1-D', Array.from({ length: 40 }, (_, i) => [i])],
    ['300-D', Array.from({ length: 40 }, (_, i) => Array.from({ length: 300 }, (_, d) => Math.sin(i * d)))],
  ];
  for (const [name, pts] of cases) {
    const y = tsne(pts, opts);
    assert.equal(y.length, 2 * pts.length, name);
    assert.ok(y.every(Number.isFinite), `${name}: non-finite coordinates`);
  }
});
