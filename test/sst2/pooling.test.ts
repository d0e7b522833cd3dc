import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { tempDir } from '../helpers.js';
import { initBackend } from '../../src/core/backend.js';
import { lstmLayer } from '../../src/sst2/lstm_cell.js';
import { featureLayerNames, LstmSentimentClassifier, poolStates, pooledDim, type Sst2ModelConfig } from '../../src/sst2/model.js';
import { loadClassifier, saveClassifier, MODEL_JSON } from '../../src/sst2/saved.js';
import { decayWeights, WeightAverage } from '../../src/sst2/regularisers.js';
import { buildVocabulary } from '../../src/sst2/data.js';

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-6) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < tol, `index ${i}: ${a[i]} vs ${b[i]}`);
};

test('poolStates: max, mean, meanmax equal a hand computation; the gradient of max reaches only the maxima', async () => {
  await initBackend();
  // [time 3, batch 2, dim 2]
  const hs = tf.tensor3d([
    [[1, -2], [0, 5]],
    [[3, -1], [-4, 2]],
    [[2, -3], [1, 1]],
  ]);
  const finals = tf.tensor2d([[9, 9], [9, 9]]);
  assert.deepEqual(Array.from(poolStates(hs, finals, 'max').dataSync()), [3, -1, 1, 5]);
  close(poolStates(hs, finals, 'mean').dataSync(), [2, -2, -1, 8 / 3]);
  close(poolStates(hs, finals, 'meanmax').dataSync(), [2, -2, 3, -1, -1, 8 / 3, 1, 5]);
  assert.equal(poolStates(hs, finals, 'last'), finals);
  const g = tf.grad((x: tf.Tensor) => tf.sum(poolStates(x as tf.Tensor3D, finals, 'max')))(hs);
  assert.deepEqual(Array.from(g.dataSync()), [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 0]);
  const gm = tf.grad((x: tf.Tensor) => tf.sum(poolStates(x as tf.Tensor3D, finals, 'mean')))(hs);
  close(gm.dataSync(), new Array(12).fill(1 / 3));
  assert.equal(pooledDim({ units: 5, bidirectional: true, pooling: 'meanmax' }), 20);
  assert.equal(pooledDim({ units: 5, bidirectional: false, pooling: 'max' }), 5);
  tf.dispose([hs, finals, g, gm]);
});

const base: Sst2ModelConfig = { vocabSize: 20, embeddingDim: 6, units: 5, layers: 1, bidirectional: true, dropout: 0.5, pooling: 'max' };

test("pooling 'max' in the model: the 'pooled' feature is the max over time of both directions' states, and training moves every weight", async () => {
  await initBackend();
  const model = new LstmSentimentClassifier(base, 3);
  assert.ok(featureLayerNames(base).includes('pooled'));
  const ids = tf.tensor2d(Int32Array.from([2, 3, 4, 5, 6, 7, 8, 9]), [2, 4], 'int32');
  const [pooled, expected, logits, expectedLogits] = tf.tidy(() => {
    const r = model.forward(ids, { training: false, features: ['pooled', 'lstm'] });
    const x = tf.gather(model.embedding, ids.transpose()) as tf.Tensor3D;
    const dirs = model.cells[0].map((c, d) => lstmLayer(x, c.kernel as tf.Tensor2D, c.recurrentKernel as tf.Tensor2D, c.bias as tf.Tensor1D, d === 1));
    const hand = tf.concat(dirs.map((h) => tf.max(h, 0)), 1);
    const handLogits = tf.add(tf.matMul(hand, model.denseKernel), model.denseBias).reshape([2]);
    return [r.features.pooled, hand, r.logits, handLogits];
  });
  assert.deepEqual(pooled.shape, [2, 10]);
  close(pooled.dataSync(), expected.dataSync(), 1e-5);
  close(logits.dataSync(), expectedLogits.dataSync(), 1e-5);
  assert.deepEqual(model.denseKernel.shape, [10, 1]);
  tf.dispose([pooled, expected, logits, expectedLogits]);

  const optimizer = tf.train.adam(0.01);
  const before = model.variables.map((v) => v.dataSync().slice());
  const labels = tf.tensor1d([1, 0]);
  tf.dispose(optimizer.minimize(() => tf.losses.sigmoidCrossEntropy(labels, model.forward(ids, { training: false }).logits), true, model.variables)!);
  model.variables.forEach((v, i) => {
    if (v.name.endsWith('embedding')) return; // only the used rows move
    assert.notDeepEqual(v.dataSync(), before[i], `${v.name} got no gradient`);
  });
  tf.dispose([ids, labels]);
  optimizer.dispose();
  model.dispose();
});

test('saved model round trip keeps the pooling; a model.json without it loads as last', async (t) => {
  await initBackend();
  const dir = tempDir(t);
  const vocab = buildVocabulary(Array.from({ length: 3 }, (_, i) => ({ id: `t-${i}`, tokens: ['a', 'b', 'c', 'd'], label: 1 as const, line: i + 1 })), 1);
  const config: Sst2ModelConfig = { ...base, vocabSize: vocab.tokens.length, pooling: 'meanmax' };
  const model = new LstmSentimentClassifier(config, 4);
  await saveClassifier(model, vocab, dir);
  const { model: loaded } = await loadClassifier(dir);
  assert.equal(loaded.config.pooling, 'meanmax');
  const ids = tf.tensor2d(Int32Array.from([2, 3, 4]), [1, 3], 'int32');
  const [a, b] = tf.tidy(() => [model.forward(ids, { training: false }).logits, loaded.forward(ids, { training: false }).logits]);
  close(a.dataSync(), b.dataSync());
  tf.dispose([a, b]);
  loaded.dispose();
  model.dispose();

  // An old model (final-state classifier, no pooling field) still loads and predicts with its final state.
  const old = new LstmSentimentClassifier({ ...config, pooling: 'last' }, 5);
  await saveClassifier(old, vocab, dir);
  const file = path.join(dir, MODEL_JSON);
  const json = JSON.parse(readFileSync(file, 'utf8'));
  delete json.config.pooling;
  writeFileSync(file, JSON.stringify(json));
  const { model: oldLoaded } = await loadClassifier(dir);
  assert.equal(oldLoaded.config.pooling, 'last');
  const [c, d, lstm] = tf.tidy(() => {
    const r = oldLoaded.forward(ids, { training: false, features: ['lstm', 'pooled'] });
    return [old.forward(ids, { training: false }).logits, r.logits, tf.sub(r.features.lstm, r.features.pooled)];
  });
  close(c.dataSync(), d.dataSync());
  close(lstm.dataSync(), new Array(10).fill(0));
  tf.dispose([c, d, lstm, ids]);
  oldLoaded.dispose();
  old.dispose();
});

test('WeightAverage follows the debiased EMA formula and swap exchanges raw and averaged weights; decayWeights shrinks', async () => {
  await initBackend();
  const v = tf.variable(tf.tensor1d([0, 10]));
  const avg = new WeightAverage([v], 0.5);
  v.assign(tf.tensor1d([4, 2]));
  avg.update(); // d = min(0.5, 2/11) = 2/11
  let expected = [0 * 2 / 11 + 4 * 9 / 11, 10 * 2 / 11 + 2 * 9 / 11];
  close(avg.averaged[0].dataSync(), expected, 1e-5);
  v.assign(tf.tensor1d([8, 0]));
  for (let n = 2; n <= 20; n++) avg.update();
  for (let n = 2; n <= 20; n++) expected = expected.map((e, i) => { const d = Math.min(0.5, (1 + n) / (10 + n)); return d * e + (1 - d) * [8, 0][i]; });
  close(avg.averaged[0].dataSync(), expected, 1e-4);
  avg.swap();
  close(v.dataSync(), expected, 1e-4);
  close(avg.averaged[0].dataSync(), [8, 0]);
  avg.swap();
  close(v.dataSync(), [8, 0]);
  decayWeights([v], 0.25);
  close(v.dataSync(), [6, 0]);
  avg.dispose();
  v.dispose();
});
