import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { createRng } from '../../src/core/rng.js';
import { auc, causalCurves, pixelRanks, stepCounts } from '../../src/explain/faithfulness.js';

before(async () => {
  await initBackend();
});

test('AUC by the trapezoid rule; step counts; ranks break ties at random', () => {
  assert.equal(auc([1, 1, 1]), 1);
  assert.equal(auc([1, 0]), 0.5);
  assert.ok(Math.abs(auc([0, 0.25, 0.5, 0.75, 1]) - 0.5) < 1e-12);
  assert.deepEqual(stepCounts(10, 4), [0, 3, 5, 8, 10]);
  const ranks = pixelRanks(Float32Array.from([0.1, 0.9, 0.5, 0.5]), createRng(1));
  assert.equal(ranks[1], 0);
  assert.equal(ranks[0], 3);
  assert.deepEqual([ranks[2], ranks[3]].sort(), [1, 2]);
  const flat = [0, 1, 2, 3, 4].map((s) => Array.from(pixelRanks(new Float32Array(6), createRng(s))).join());
  assert.ok(new Set(flat).size > 1, 'a constant map gives random orders');
});

test('deletion/insertion: the true attribution of a linear model beats a reversed one', async () => {
  // Two classes, logits [w . x, 0]: p_0 = sigmoid(w . x).
  const h = 4, w = 4;
  const weights = Float32Array.from({ length: 16 }, (_, i) => (i % 5) - 1.5);
  const m = tf.sequential();
  m.add(tf.layers.flatten({ inputShape: [h, w, 1] }));
  m.add(tf.layers.dense({ units: 2, useBias: false, activation: 'softmax' }));
  const k = new Float32Array(32);
  weights.forEach((v, i) => (k[2 * i] = v));
  m.layers[1].setWeights([tf.tensor2d(k, [16, 2])]);
  const x = tf.ones([1, h, w, 1]) as tf.Tensor4D;
  const blank = tf.zeros([1, h, w, 1]) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const good = await causalCurves(m, x, blank, pixelRanks(weights, createRng(0)), 0, 16, 7);
  const bad = await causalCurves(m, x, blank, pixelRanks(weights.map((v) => -v), createRng(0)), 0, 16, 7);
  assert.equal(tf.memory().numTensors, before, 'no leaks');
  const total = weights.reduce((a, b) => a + b, 0);
  const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
  assert.ok(Math.abs(good.deletion[0] - sigmoid(total)) < 1e-5, 'deletion starts at the full image');
  assert.ok(Math.abs(good.deletion[16] - 0.5) < 1e-5, 'and ends at the blank image');
  assert.ok(Math.abs(good.insertion[0] - 0.5) < 1e-5 && Math.abs(good.insertion[16] - sigmoid(total)) < 1e-5);
  // After deleting the single most important pixel (weight 2.5), the logit drops by 2.5.
  assert.ok(Math.abs(good.deletion[1] - sigmoid(total - 2.5)) < 1e-5);
  assert.ok(auc(good.deletion) < auc(bad.deletion));
  assert.ok(auc(good.insertion) > auc(bad.insertion));
  tf.dispose([x, blank]);
});
