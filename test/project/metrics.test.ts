import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { createRng } from '../../src/core/rng.js';
import { UsageError } from '../../src/core/errors.js';
import { knnAccuracy, trustworthiness, trustworthinessMany } from '../../src/project/metrics.js';
import { requireOracle, tempDir } from '../helpers.js';

/** n points in `dim` dimensions: 3 loose clusters, seeded. */
function cloud(n: number, dim: number, seed: number): number[][] {
  const rng = createRng(seed);
  return Array.from({ length: n }, (_, i) => Array.from({ length: dim }, (_, d) => (i % 3) * (d === 0 ? 2 : 0) + rng.normal()));
}

test('trustworthiness matches sklearn.manifold.trustworthiness to 1e-6', (t) => {
  const py = requireOracle(t, ['sklearn']);
  if (!py) return;
  const dir = tempDir(t);
  const high = cloud(150, 6, 1);
  // a lossy 2-D view: the first two features plus noise, so some neighbours are intruders
  const rng = createRng(2);
  const low = high.map((r) => [r[0] + 0.5 * rng.normal(), r[1] + 0.5 * rng.normal()]);
  const file = path.join(dir, 'case.json');
  writeFileSync(file, JSON.stringify({ high, low }));
  const script = [
    'import json, sys',
    'import numpy as np',
    'from sklearn.manifold import trustworthiness',
    'd = json.load(open(sys.argv[1]))',
    'X, Y = np.array(d["high"]), np.array(d["low"])',
    'print(json.dumps([trustworthiness(X, Y, n_neighbors=k) for k in (1, 5, 10, 30)]))',
  ].join('\n');
  const r = spawnSync(py, ['-c', script, file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const expected: number[] = JSON.parse(r.stdout.trim());
  [1, 5, 10, 30].forEach((k, a) => {
    const got = trustworthiness(high, low, k);
    assert.ok(Math.abs(got - expected[a]) < 1e-6, `k=${k}: dnnkit ${got} vs sklearn ${expected[a]}`);
  });
  assert.ok(expected[2] < 0.99, `the case should have intruders (sklearn T(10) = ${expected[2]})`);
});

test('trustworthiness is 1 for an isometric embedding and shared passes agree with single ones', () => {
  const high = cloud(80, 2, 3);
  const rotated = high.map(([a, b]) => [0.6 * a - 0.8 * b + 5, 0.8 * a + 0.6 * b - 1]);
  assert.ok(Math.abs(trustworthiness(high, rotated, 7) - 1) < 1e-12);
  const rng = createRng(4);
  const shuffled = high.map(() => [rng.normal(), rng.normal()]);
  const single = trustworthiness(high, shuffled, 7);
  assert.ok(single < 0.8, `random layout should score low, got ${single}`);
  const many = trustworthinessMany(high, [rotated, shuffled], 7);
  assert.ok(Math.abs(many[0] - 1) < 1e-12);
  assert.equal(many[1], single);
});

test('trustworthiness rejects bad k and mismatched inputs', () => {
  const high = cloud(20, 3, 5);
  const low = high.map((r) => [r[0], r[1]]);
  assert.throws(() => trustworthiness(high, low, 10), (e: unknown) => e instanceof UsageError && /less than n \/ 2/.test(e.message));
  assert.throws(() => trustworthiness(high, low, 0), UsageError);
  assert.throws(() => trustworthiness(high, low.slice(1), 3), /19 points but the input has 20/);
  assert.throws(() => trustworthiness(high, low.map((r, i) => (i === 4 ? [NaN, 0] : r)), 3), /row 4/);
});

test('knnAccuracy on a hand-made line: majority vote, ties to the nearest voter', () => {
  // positions on a line and labels; k = 2 leaves ties that the nearest neighbour decides
  const xs = [0, 1, 2, 10, 11, 12, 12.4];
  const labels = ['a', 'a', 'b', 'b', 'b', 'a', 'a'];
  const pts = xs.map((x) => [x, 0]);
  // k = 1: nearest other point. 0->1 a ok; 1->0 (tie 0/2 at distance 1, lower index first) a ok;
  // 2->1 a wrong; 10->11 b ok; 11->10 (tie with 12, lower index) b ok; 12->12.4 a ok; 12.4->12 a ok
  assert.equal(knnAccuracy(pts, labels, 1), 6 / 7);
  // k = 3: 0:{1a,2b,10b}->b wrong; 1:{0a,2b,10b}->b wrong; 2:{1a,0a,10b}->a wrong;
  // 10:{11b,12a,12.4a}->a wrong; 11:{10b,12a,12.4a}->a wrong; 12:{12.4a,11b,10b}->b wrong; 12.4:{12a,11b,10b}->b wrong
  assert.equal(knnAccuracy(pts, labels, 3), 0);
  // k = 2 ties: 0:{1a,2b} tie -> nearest a ok; 2:{1a,0a} a wrong; 10:{11b,12a} tie -> b ok;
  // 11:{10b,12a} tie -> 10 (distance 1, lower index) b ok; 12:{12.4a,11b} -> a ok; 12.4:{12a,11b} -> a ok;
  // 1:{0a,2b} tie -> 0 first (equal distance, lower index) a ok
  assert.equal(knnAccuracy(pts, labels, 2), 6 / 7);
  assert.equal(knnAccuracy(pts, labels.map((l) => (l === 'a' ? 0 : 1)), 2), 6 / 7);
});

test('knnAccuracy rejects bad arguments', () => {
  const pts = [[0], [1], [2]];
  assert.throws(() => knnAccuracy(pts, ['a', 'b'], 1), /2 labels for 3 points/);
  assert.throws(() => knnAccuracy(pts, ['a', 'b', 'c'], 3), UsageError);
  assert.throws(() => knnAccuracy(pts, ['a', 'b', 'c'], 1.5), UsageError);
});
