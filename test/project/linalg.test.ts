import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { requireOracle } from '../helpers.js';
import { createRng } from '../../src/core/rng.js';
import { centre, columnMeans, flattenPoints, gramMatrix, scatterMatrix, symmetricEigen, type EigenSolver } from '../../src/project/linalg.js';

/** A random symmetric PSD matrix B^T B [dim * dim] with distinct eigenvalues (B has scaled columns). */
function spd(dim: number, seed: number): Float64Array {
  const rng = createRng(seed);
  const b = Array.from({ length: dim + 3 }, () => Array.from({ length: dim }, (_, j) => rng.normal() * (dim - j)));
  const a = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) for (const row of b) a[i * dim + j] += row[i] * row[j];
  return a;
}

test('scatter and Gram matrices and column means on a 3 x 2 example worked by hand', () => {
  const x = flattenPoints([[1, 2], [3, 6], [5, 4]]);
  assert.deepEqual(Array.from(columnMeans(x, 'sum')), [3, 4]);
  assert.deepEqual(Array.from(columnMeans(x, 'terms')), [3, 4]);
  const xc = centre(x, columnMeans(x, 'sum')); // [-2,-2], [0,2], [2,0]
  assert.deepEqual(Array.from(xc), [-2, -2, 0, 2, 2, 0]);
  assert.deepEqual(Array.from(scatterMatrix(xc, 3, 2)), [8, 4, 4, 8]);
  assert.deepEqual(Array.from(gramMatrix(xc, 3, 2)), [8, -4, -4, -4, 4, 0, -4, 0, 4]);
});

test('the three eigensolvers agree, and each eigenpair satisfies A v = lambda v with the sign convention', () => {
  const dim = 7;
  const a = spd(dim, 1);
  const full: Record<string, ReturnType<typeof symmetricEigen>> = {};
  for (const solver of ['ql', 'jacobi'] as EigenSolver[]) {
    const e = symmetricEigen(a, dim, solver);
    full[solver] = e;
    for (let c = 0; c < dim; c++) {
      const v = e.vectors.subarray(c * dim, (c + 1) * dim);
      if (c > 0) assert.ok(e.values[c - 1] >= e.values[c], `${solver}: descending`);
      let best = 0;
      for (let d = 1; d < dim; d++) if (Math.abs(v[d]) > Math.abs(v[best])) best = d;
      assert.ok(v[best] > 0, `${solver}: largest component positive`);
      for (let r = 0; r < dim; r++) {
        let av = 0;
        for (let d = 0; d < dim; d++) av += a[r * dim + d] * v[d];
        assert.ok(Math.abs(av - e.values[c] * v[r]) < 1e-9 * e.values[0], `${solver}: A v = lambda v, component ${c}`);
      }
    }
  }
  const top = symmetricEigen(a, dim, 'subspace', 2);
  assert.equal(top.vectors.length, 2 * dim);
  for (let i = 0; i < dim * dim; i++) assert.ok(Math.abs(full.ql.vectors[i] - full.jacobi.vectors[i]) < 1e-8, 'ql = jacobi');
  // subspace iteration stops when a step turns a vector by less than ~1.4e-6 rad (1 - cos < 1e-12)
  for (let i = 0; i < 2 * dim; i++) assert.ok(Math.abs(top.vectors[i] - full.ql.vectors[i]) < 1e-5, 'subspace = ql on the top 2');
  for (let c = 0; c < 2; c++) assert.ok(Math.abs(top.values[c] - full.ql.values[c]) < 1e-8 * full.ql.values[0]);
  const a2 = a.slice();
  symmetricEigen(a2, dim, 'jacobi');
  assert.deepEqual(a2, a, 'input not modified');
});

test('eigenvalues match numpy.linalg.eigh', (t) => {
  const py = requireOracle(t, ['numpy']);
  if (!py) return;
  const dim = 9;
  const a = spd(dim, 2);
  const rowsOf = Array.from({ length: dim }, (_, r) => Array.from(a.subarray(r * dim, (r + 1) * dim)));
  const r = spawnSync(py, ['-c', 'import json,sys,numpy as np\nw=np.linalg.eigh(np.array(json.load(sys.stdin)))[0]\nprint(json.dumps(sorted(w.tolist(),reverse=True)))'], { input: JSON.stringify(rowsOf), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const ref = JSON.parse(r.stdout) as number[];
  for (const solver of ['ql', 'jacobi'] as EigenSolver[]) {
    const e = symmetricEigen(a, dim, solver);
    ref.forEach((v, i) => assert.ok(Math.abs(v - e.values[i]) < 1e-9 * ref[0], `${solver} eigenvalue ${i}: ${e.values[i]} vs ${v}`));
  }
});
