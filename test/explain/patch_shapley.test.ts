import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { UsageError } from '../../src/core/errors.js';
import {
  PatchShapley, exactShapley, sampledShapley, parseGrid, patchIndexMap, fitPixelMap, makeBaseline, classLogOdds,
  coalitionKey, tQuantile975, type CoalitionGame, DEFAULT_SHAPLEY_OPTIONS,
} from '../../src/explain/patch_shapley.js';
import { sequentialCnn, randomInput } from './tiny_models.js';

before(async () => {
  await initBackend();
});

/** flatten -> dense(2, no bias) with logits [w . x, 0]: the class-0 log-odds is w . x exactly. */
function linearLogOddsModel(h: number, w: number, weights: Float32Array): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.flatten({ inputShape: [h, w, 1] }));
  m.add(tf.layers.dense({ units: 2, useBias: false, activation: 'softmax' }));
  const k = new Float32Array(h * w * 2);
  weights.forEach((v, i) => (k[i * 2] = v));
  m.layers[1].setWeights([tf.tensor2d(k, [h * w, 2])]);
  return m;
}

test('linear model in log-odds: phi_i = sum over patch i of w_p (x_p - b_p), exact and sampled', async () => {
  const h = 6, w = 6;
  const rng = tf.randomNormal([h * w], 0, 1, 'float32', 3);
  const weights = rng.dataSync() as Float32Array;
  rng.dispose();
  const model = linearLogOddsModel(h, w, weights);
  const x = randomInput([1, h, w, 1], 4);
  const b = tf.fill([1, h, w, 1], 0.3) as tf.Tensor4D;
  const grid = parseGrid(9, undefined);
  const idx = patchIndexMap(grid, h, w);
  const xs = x.dataSync();
  const expected = new Array(9).fill(0);
  idx.forEach((p, i) => (expected[p] += weights[i] * (xs[i] - 0.3)));
  const exact = await new PatchShapley(model, grid, { ...DEFAULT_SHAPLEY_OPTIONS, exact: true, batch: 64 }).explain(x, b, 0);
  const sampled = await new PatchShapley(model, grid, { ...DEFAULT_SHAPLEY_OPTIONS, samples: 6, batch: 7 }).explain(x, b, 0);
  for (let i = 0; i < 9; i++) {
    assert.ok(Math.abs(exact.phi[i] - expected[i]) < 1e-4, `exact phi ${i}: ${exact.phi[i]} vs ${expected[i]}`);
    assert.ok(Math.abs(sampled.phi[i] - expected[i]) < 1e-4, `sampled phi ${i}`);
    assert.ok(sampled.se[i] < 1e-4, 'a linear game has no sampling variance');
  }
  assert.equal(exact.evaluations, 512);
  assert.equal(exact.method, 'exact');
  assert.ok(exact.efficiencyGap < 1e-6 && sampled.efficiencyGap < 1e-6);
  assert.equal(sampled.permutations, 6);
  x.dispose();
  b.dispose();
});

/** [4, 4, 1], 2x2 grid: hidden = tanh(sum of patches 0 and 1, with equal weights; patch 3 ignored). */
function symmetricModel(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.flatten({ inputShape: [4, 4, 1] }));
  m.add(tf.layers.dense({ units: 2, activation: 'tanh' }));
  m.add(tf.layers.dense({ units: 3 }));
  const idx = patchIndexMap({ rows: 2, cols: 2 }, 4, 4);
  const k1 = new Float32Array(16 * 2);
  idx.forEach((p, i) => {
    if (p === 0 || p === 1) k1[i * 2] = 0.7;
    if (p === 2) k1[i * 2 + 1] = 0.5;
  });
  m.layers[1].setWeights([tf.tensor2d(k1, [16, 2]), tf.tensor1d([0.1, -0.2])]);
  m.layers[2].setWeights([tf.tensor2d([2, -1, 0.5, 1.5, 0.3, -2], [2, 3]), tf.tensor1d([0, 0.2, -0.1])]);
  return m;
}

test('symmetric patches get equal values; a patch the model ignores gets 0', async () => {
  const model = symmetricModel();
  // Patches 0 and 1 hold the same pixels (mirror image), so the players are symmetric.
  const img = new Float32Array(16);
  const idx = patchIndexMap({ rows: 2, cols: 2 }, 4, 4);
  const patchVals = [[0.9, 0.1, 0.5, 0.3], [0.9, 0.1, 0.5, 0.3], [0.2, 0.8, 0.6, 0.4], [1, 1, 1, 1]];
  const seen = [0, 0, 0, 0];
  idx.forEach((p, i) => (img[i] = patchVals[p][seen[p]++]));
  const x = tf.tensor4d(img, [1, 4, 4, 1]);
  const b = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
  for (const opts of [{ ...DEFAULT_SHAPLEY_OPTIONS, exact: true }, { ...DEFAULT_SHAPLEY_OPTIONS, samples: 200 }]) {
    const r = await new PatchShapley(model, { rows: 2, cols: 2 }, opts).explain(x, b, 1);
    assert.ok(Math.abs(r.phi[0] - r.phi[1]) < (opts.exact ? 1e-6 : 4 * Math.hypot(r.se[0], r.se[1]) + 1e-6), `symmetric ${r.phi}`);
    assert.equal(r.phi[3], 0, 'ignored patch');
    assert.ok(Math.abs(r.phi[0]) > 1e-3 && Math.abs(r.phi[2]) > 1e-3, 'the test is not vacuous');
    assert.ok(r.efficiencyGap < 1e-6);
  }
  x.dispose();
  b.dispose();
});

/** A game with interactions and a known exact solution (computed by enumeration). */
function interactionGame(n: number, seed: number): CoalitionGame {
  const g = tf.randomNormal([n + n * n], 0, 1, 'float32', seed);
  const p = g.dataSync();
  g.dispose();
  return {
    players: n,
    async values(cs) {
      return Float64Array.from(cs, (c) => {
        let v = 0;
        for (let i = 0; i < n; i++) {
          if (!c[i]) continue;
          v += p[i];
          for (let j = 0; j < i; j++) if (c[j]) v += 0.6 * p[n + i * n + j];
        }
        return Math.tanh(v / 2) * 3;
      });
    },
  };
}

test('sampled estimates converge to the exact values, error ~ 1/sqrt(samples), CIs cover', async () => {
  const n = 10;
  const game = interactionGame(n, 21);
  const exact = await exactShapley(game, { batch: 256 });
  const rmse = async (samples: number) => {
    let se2 = 0;
    let covered = 0;
    let count = 0;
    for (let seed = 0; seed < 12; seed++) {
      const r = await sampledShapley(game, { ...DEFAULT_SHAPLEY_OPTIONS, samples, seed, batch: 512 });
      assert.ok(r.efficiencyGap <= 1e-4);
      r.phi.forEach((v, i) => {
        se2 += (v - exact.phi[i]) ** 2;
        if (exact.phi[i] >= r.ciLow[i] && exact.phi[i] <= r.ciHigh[i]) covered++;
        count++;
      });
    }
    return { rmse: Math.sqrt(se2 / count), coverage: covered / count };
  };
  const small = await rmse(8);
  const large = await rmse(128);
  // 16x the samples: error should shrink ~4x (1/sqrt); allow 2.5x-7x.
  const ratio = small.rmse / large.rmse;
  assert.ok(ratio > 2.5 && ratio < 7, `rmse ${small.rmse} -> ${large.rmse} (ratio ${ratio})`);
  assert.ok(large.coverage > 0.85, `95% CI coverage ${large.coverage}`);
});

test('--patches must be a square; --grid RxC; the grid must fit the input', () => {
  assert.deepEqual(parseGrid(16, undefined), { rows: 4, cols: 4 });
  assert.deepEqual(parseGrid(undefined, '3x5'), { rows: 3, cols: 5 });
  assert.throws(() => parseGrid(15, undefined), (e: Error) => e instanceof UsageError && /perfect square.*got 15; use 9 or 16/.test(e.message));
  assert.throws(() => parseGrid(undefined, '3by5'), UsageError);
  assert.throws(() => parseGrid(16, '3x5'), UsageError);
  assert.throws(() => patchIndexMap({ rows: 30, cols: 30 }, 28, 28), (e: Error) => e instanceof UsageError && /does not fit/.test(e.message));
  const idx = patchIndexMap({ rows: 2, cols: 3 }, 5, 7);
  assert.deepEqual(Array.from(idx.slice(0, 7)), [0, 0, 0, 1, 1, 2, 2]);
  assert.deepEqual(Array.from(idx.slice(28, 35)), [3, 3, 3, 4, 4, 5, 5]);
  assert.equal(coalitionKey(Uint8Array.from([1, 0, 1])), String.fromCharCode(5));
  assert.equal(coalitionKey(new Uint8Array(17).fill(1)).length, 2);
  assert.ok(Math.abs(tQuantile975(30) - 2.042) < 2e-3 && Math.abs(tQuantile975(100) - 1.984) < 1e-3);
});

test('baselines: zero = black through the preprocessing, mean, blur keeps a flat image', () => {
  // ImageNet-normalised input of a random image: the fitted map recovers -mean/std for black.
  const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
  const display = new Uint8Array(8 * 8 * 3).map((_, i) => (i * 37) % 256);
  const input = Float32Array.from(display, (v, i) => (v / 255 - mean[i % 3]) / std[i % 3]);
  const fit = fitPixelMap(input, display, 3)!;
  fit.offset.forEach((o, c) => assert.ok(Math.abs(o + mean[c] / std[c]) < 1e-4));
  const x = tf.tensor4d(input, [1, 8, 8, 3]);
  const zero = makeBaseline(x, 'zero', { rows: 2, cols: 2 }, fit.offset);
  assert.ok(Math.abs(zero.dataSync()[1] + mean[1] / std[1]) < 1e-4);
  const m = makeBaseline(x, 'mean', { rows: 2, cols: 2 });
  assert.ok(Math.abs(m.dataSync()[0] - x.mean([0, 1, 2]).dataSync()[0]) < 1e-5);
  const flat = tf.fill([1, 9, 9, 3], 0.25) as tf.Tensor4D;
  const blurred = makeBaseline(flat, 'blur', { rows: 3, cols: 3 });
  assert.deepEqual(blurred.shape, [1, 9, 9, 3]);
  assert.ok(Math.abs(blurred.max().dataSync()[0] - 0.25) < 1e-5 && Math.abs(blurred.min().dataSync()[0] - 0.25) < 1e-5);
  const blurX = makeBaseline(x, 'blur', { rows: 2, cols: 2 });
  assert.ok(blurX.sub(x).abs().mean().dataSync()[0] > 0.05, 'blur changes a textured image');
  assert.equal(fitPixelMap(input.map((v) => v * v), display, 3), undefined, 'a non-affine map is detected');
  tf.dispose([x, zero, m, flat, blurred, blurX]);
});

test('log-odds from logits is stable and equals log(p/(1-p))', () => {
  const logits = tf.tensor2d([[2, 1, 0.5], [300, -300, 0]]);
  const v = classLogOdds(logits, 0).arraySync();
  const p = Math.exp(2) / (Math.exp(2) + Math.exp(1) + Math.exp(0.5));
  assert.ok(Math.abs(v[0] - Math.log(p / (1 - p))) < 1e-5);
  assert.ok(Math.abs(v[1] - 300) < 1e-3, `stable for huge logits: ${v[1]}`);
  logits.dispose();
});

test('no tensor leaks across repeated patch Shapley calls; exact limit', async () => {
  const model = sequentialCnn();
  const x = randomInput([1, 12, 12, 1], 2);
  const b = tf.zerosLike(x) as tf.Tensor4D;
  const ps = new PatchShapley(model, { rows: 3, cols: 3 }, { ...DEFAULT_SHAPLEY_OPTIONS, samples: 4, batch: 8 });
  await ps.explain(x, b, 0);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) await ps.explain(x, b, i);
  tf.dispose(makeBaseline(x, 'blur', { rows: 3, cols: 3 }));
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => new PatchShapley(model, { rows: 4, cols: 4 }, { ...DEFAULT_SHAPLEY_OPTIONS, exact: true }), UsageError);
  await assert.rejects(ps.explain(x, b, 3), UsageError);
  tf.dispose([x, b]);
});
