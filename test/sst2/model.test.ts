import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { createRng } from '../../src/core/rng.js';
import { featureLayerNames, LstmSentimentClassifier, pooledDim, type Sst2ModelConfig } from '../../src/sst2/model.js';

const configs: Sst2ModelConfig[] = [
  { vocabSize: 20, embeddingDim: 6, units: 5, layers: 1, bidirectional: false, dropout: 0.5 },
  { vocabSize: 20, embeddingDim: 6, units: 5, layers: 2, bidirectional: true, dropout: 0.3 },
  { vocabSize: 20, embeddingDim: 6, units: 5, layers: 2, bidirectional: true, dropout: 0.3, pooling: 'meanmax' },
];

for (const config of configs) {
  test(`every feature layer has shape [batch, dim], training and inference leak nothing (${config.layers} layer(s), bidirectional ${config.bidirectional}, pooling ${config.pooling ?? 'last'})`, async () => {
    await initBackend();
    const model = new LstmSentimentClassifier(config, 1);
    const ids = tf.tensor2d(Int32Array.from([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]), [3, 4], 'int32');
    const idsCopy = ids.dataSync().slice();
    const dirs = config.bidirectional ? 2 : 1;
    const expectedDim: Record<string, number> = { embedding: config.embeddingDim, lstm: config.units * dirs };
    for (let l = 1; l <= config.layers; l++) expectedDim[`lstm${l}`] = config.units * dirs;
    expectedDim.pooled = pooledDim(config);
    assert.deepEqual(Object.keys(expectedDim).sort(), featureLayerNames(config).sort());

    const before = tf.memory().numTensors;
    const out = tf.tidy(() => {
      const r = model.forward(ids, { training: false, features: featureLayerNames(config) });
      return [r.logits, ...featureLayerNames(config).map((n) => r.features[n])];
    });
    assert.deepEqual(out[0].shape, [3]);
    featureLayerNames(config).forEach((name, i) => assert.deepEqual(out[i + 1].shape, [3, expectedDim[name]], name));
    // The last layer's final state is `lstm` and `lstmL`.
    assert.deepEqual(out[featureLayerNames(config).indexOf('lstm') + 1].dataSync(), out[config.layers + 1].dataSync());
    tf.dispose(out);
    assert.equal(tf.memory().numTensors, before, 'inference leaks no tensors');

    // One training step changes every weight and leaks nothing.
    const optimizer = tf.train.adam(0.01);
    const weightsBefore = model.variables.map((v) => v.dataSync().slice());
    const labels = tf.tensor1d([1, 0, 1]);
    const rng = createRng(2);
    const step = () => optimizer.minimize(() => tf.losses.sigmoidCrossEntropy(labels, model.forward(ids, { training: true, rng }).logits), true, model.variables)!;
    tf.dispose(step()); // Adam creates its slot variables here
    const afterFirst = tf.memory().numTensors;
    tf.dispose(step());
    assert.equal(tf.memory().numTensors, afterFirst, 'a training step leaks no tensors');
    model.variables.forEach((v, i) => assert.notDeepEqual(v.dataSync(), weightsBefore[i], `${v.name} did not change`));
    assert.deepEqual(ids.dataSync(), idsCopy, 'input not mutated');
    tf.dispose([ids, labels]);
    optimizer.dispose();
    model.dispose();
  });
}

test('equal seeds give equal weights; saved names are stable', () => {
  const a = new LstmSentimentClassifier(configs[1], 5);
  const b = new LstmSentimentClassifier(configs[1], 5);
  assert.deepEqual(Object.keys(a.namedWeights()), Object.keys(b.namedWeights()));
  assert.deepEqual(Object.keys(a.namedWeights()).slice(0, 4), ['embedding', 'lstm1_fw/kernel', 'lstm1_fw/recurrent_kernel', 'lstm1_fw/bias']);
  a.variables.forEach((v, i) => assert.deepEqual(v.dataSync(), b.variables[i].dataSync()));
  // The recurrent kernel is four orthogonal blocks: W_g^T W_g = I.
  const wh = a.namedWeights()['lstm1_fw/recurrent_kernel'];
  const block = tf.tidy(() => tf.slice(wh, [0, 0], [5, 5]));
  const gram = tf.tidy(() => tf.matMul(block, block, true, false));
  const g = gram.dataSync();
  for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) assert.ok(Math.abs(g[i * 5 + j] - (i === j ? 1 : 0)) < 1e-5);
  tf.dispose([block, gram]);
  a.dispose();
  b.dispose();
});
