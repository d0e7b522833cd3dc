import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { createRng } from '../../src/core/rng.js';
import { buildVocabulary } from '../../src/sst2/data.js';
import { CnnSentimentClassifier, cnnPooledDim } from '../../src/sst2/cnn.js';
import { createClassifier, EnsembleClassifier, featureLayerNames, LstmSentimentClassifier, memberSeed, pooledDim, type Sst2ModelConfig } from '../../src/sst2/model.js';
import { loadClassifier, saveClassifier } from '../../src/sst2/saved.js';
import { lastJson, runCli, sst2Subset, tempDir } from '../helpers.js';

const cnnConfig: Sst2ModelConfig = { vocabSize: 9, embeddingDim: 3, units: 4, layers: 1, bidirectional: true, dropout: 0, pooling: 'max', members: 0, cnnMembers: 1, cnnFilters: 2, cnnWidths: [2, 3] };

/**
 * The CNN's logit computed from its weights by plain loops in float64 (the definition in cnn.ts):
 * per width w, filter f: max over windows t of ReLU(b + sum_j sum_e x[t+j][e] K[j][e][f]), the
 * sentence padded with zero vectors to the widest window; then the dense layer.
 */
function referenceLogit(w: Record<string, Float64Array>, ids: number[], cfg = cnnConfig): number {
  const dim = cfg.embeddingDim;
  const filters = cfg.cnnFilters!;
  const widths = cfg.cnnWidths!;
  const widest = Math.max(...widths);
  const x: number[][] = ids.map((id) => Array.from(w.embedding.subarray(id * dim, (id + 1) * dim)));
  while (x.length < widest) x.push(new Array(dim).fill(0));
  const pooled: number[] = [];
  for (const width of widths) {
    const k = w[`conv${width}/kernel`];
    const b = w[`conv${width}/bias`];
    for (let f = 0; f < filters; f++) {
      let best = -Infinity;
      for (let t = 0; t + width <= x.length; t++) {
        let z = b[f];
        for (let j = 0; j < width; j++) for (let e = 0; e < dim; e++) z += x[t + j][e] * k[(j * dim + e) * filters + f];
        best = Math.max(best, Math.max(0, z));
      }
      pooled.push(best);
    }
  }
  return pooled.reduce((s, v, i) => s + v * w['dense/kernel'][i], w['dense/bias'][0]);
}

const asFloat64 = (net: CnnSentimentClassifier): Record<string, Float64Array> =>
  Object.fromEntries(Object.entries(net.namedWeights()).map(([n, v]) => [n, Float64Array.from(v.dataSync())]));

test('cnn: logits match a loop-by-loop reference, short sentences included; features are embedding and pooled', async () => {
  await initBackend();
  const net = new CnnSentimentClassifier(cnnConfig, 3);
  // Biases start at zero; give them values so that the reference checks them too.
  tf.tidy(() => net.variables.filter((v) => v.name.endsWith('bias')).forEach((v, i) => v.assign(tf.fill(v.shape, 0.1 * (i + 1) * (i % 2 ? -1 : 1)))));
  const w = asFloat64(net);
  for (const sentences of [[[2, 3, 4, 5, 6], [7, 8, 1, 0, 2]], [[4, 5], [6, 7]], [[5], [3]]]) {
    const time = sentences[0].length;
    const ids = tf.tensor2d(Int32Array.from(sentences.flat()), [sentences.length, time], 'int32');
    const before = tf.memory().numTensors;
    const [logits, pooled, embedding] = tf.tidy(() => {
      const r = net.forward(ids, { training: false, features: ['pooled', 'embedding', 'lstm'] });
      assert.deepEqual(Object.keys(r.features).sort(), ['embedding', 'pooled'], 'a CNN has no LSTM layers');
      return [r.logits, r.features.pooled, r.features.embedding];
    });
    assert.deepEqual(pooled.shape, [sentences.length, cnnPooledDim(cnnConfig)]);
    assert.deepEqual(embedding.shape, [sentences.length, cnnConfig.embeddingDim]);
    sentences.forEach((s, i) => {
      const ref = referenceLogit(w, s);
      assert.ok(Math.abs(logits.dataSync()[i] - ref) < 1e-5, `time ${time}, sentence ${i}: ${logits.dataSync()[i]} vs ${ref}`);
    });
    tf.dispose([logits, pooled, embedding]);
    assert.equal(tf.memory().numTensors, before, 'inference leaks no tensors');
    ids.dispose();
  }
  net.dispose();
});

test('cnn: the autodiff gradient of the loss matches central differences of the float64 reference', async () => {
  await initBackend();
  const net = new CnnSentimentClassifier(cnnConfig, 5);
  const sentence = [2, 3, 4, 2];
  const ids = tf.tensor2d(Int32Array.from(sentence), [1, sentence.length], 'int32');
  const label = tf.tensor1d([1]);
  const grads = tf.variableGrads(() => tf.losses.sigmoidCrossEntropy(label, net.forward(ids, { training: false }).logits) as tf.Scalar, net.variables);
  const w = asFloat64(net);
  const loss = (weights: Record<string, Float64Array>) => Math.log1p(Math.exp(-referenceLogit(weights, sentence)));
  let checked = 0;
  for (const v of net.variables) {
    const name = Object.entries(net.namedWeights()).find(([, t]) => t === v)![0];
    const g = grads.grads[v.name].dataSync();
    for (let i = 0; i < g.length; i++) {
      const h = 1e-6;
      const plus = { ...w, [name]: Float64Array.from(w[name]) };
      plus[name][i] += h;
      const minus = { ...w, [name]: Float64Array.from(w[name]) };
      minus[name][i] -= h;
      const numeric = (loss(plus) - loss(minus)) / (2 * h);
      assert.ok(Math.abs(g[i] - numeric) < 1e-4 + 1e-3 * Math.abs(numeric), `${name}[${i}]: autodiff ${g[i]}, numeric ${numeric}`);
      checked += numeric !== 0 ? 1 : 0;
    }
  }
  assert.ok(checked > 20, `only ${checked} non-zero gradient entries were checked`);
  tf.dispose([ids, label, grads.value, ...Object.values(grads.grads)]);
  net.dispose();
});

test('ensemble of LSTMs and CNNs: members in order with their seeds, mean probability, features of the networks that have them, save/load', async (t) => {
  await initBackend();
  const lstm: Sst2ModelConfig = { vocabSize: 9, embeddingDim: 3, units: 4, layers: 1, bidirectional: true, dropout: 0, pooling: 'max' };
  const config: Sst2ModelConfig = { ...lstm, members: 2, cnnMembers: 1, cnnFilters: 2, cnnWidths: [2, 3] };
  const ens = createClassifier(config, 7);
  assert.ok(ens instanceof EnsembleClassifier);
  assert.deepEqual(ens.networks.map((n) => n.constructor.name), ['LstmSentimentClassifier', 'LstmSentimentClassifier', 'CnnSentimentClassifier']);
  const singles = [new LstmSentimentClassifier(lstm, memberSeed(7, 0)), new LstmSentimentClassifier(lstm, memberSeed(7, 1)), new CnnSentimentClassifier(cnnConfig, memberSeed(7, 2))];
  ens.networks.forEach((m, k) => m.variables.forEach((v, i) => assert.deepEqual(v.dataSync(), singles[k].variables[i].dataSync())));
  assert.ok(Object.keys(ens.namedWeights()).includes('member3/conv3/kernel'));
  assert.deepEqual(featureLayerNames(ens.config), featureLayerNames(lstm));
  assert.deepEqual(featureLayerNames({ layers: 1, members: 0 }), ['embedding', 'pooled'], 'a CNN-only model has no LSTM layers');

  const ids = tf.tensor2d(Int32Array.from([2, 3, 4, 5, 6, 7]), [2, 3], 'int32');
  const [p, pooled, last, ...each] = tf.tidy(() => {
    const r = ens.forward(ids, { training: false, features: ['pooled', 'lstm'] });
    return [tf.sigmoid(r.logits), r.features.pooled, r.features.lstm, ...singles.map((s) => tf.sigmoid(s.forward(ids, { training: false }).logits))];
  });
  [0, 1].forEach((i) => assert.ok(Math.abs(p.dataSync()[i] - (each[0].dataSync()[i] + each[1].dataSync()[i] + each[2].dataSync()[i]) / 3) < 1e-6));
  assert.deepEqual(pooled.shape, [2, 2 * pooledDim(lstm) + cnnPooledDim(cnnConfig)]);
  assert.deepEqual(last.shape, [2, 2 * 8], 'lstm features come from the two LSTM networks');

  const dir = tempDir(t);
  const vocab = buildVocabulary(Array.from({ length: 2 }, (_, i) => ({ id: `t-${i}`, tokens: ['a', 'b', 'c', 'd', 'e', 'f', 'g'], label: 1 as const, line: i + 1 })), 1);
  assert.equal(vocab.tokens.length, config.vocabSize);
  await saveClassifier(ens, vocab, dir);
  const { model: loaded } = await loadClassifier(dir);
  assert.equal(loaded.config.cnnMembers, 1);
  const again = tf.tidy(() => tf.sigmoid(loaded.forward(ids, { training: false }).logits));
  assert.deepEqual(again.dataSync(), p.dataSync());
  tf.dispose([p, pooled, last, ...each, again, ids]);
  [ens, loaded, ...singles].forEach((m) => m.dispose());
  assert.throws(() => createClassifier({ ...lstm, members: 0 }, 1), /no network/);
});

test('cnn: a training step with a perturbation changes every weight and leaks nothing', async () => {
  await initBackend();
  const net = new CnnSentimentClassifier({ ...cnnConfig, dropout: 0.5 }, 2);
  const ids = tf.tensor2d(Int32Array.from([2, 3, 4, 5, 6, 7, 8, 1]), [2, 4], 'int32');
  const labels = tf.tensor1d([1, 0]);
  const rng = createRng(1);
  const optimizer = tf.train.adam(0.01);
  const before = net.variables.map((v) => v.dataSync().slice());
  const step = () => tf.tidy(() => {
    const perturbation = tf.mul(tf.onesLike(net.wordVectors(ids)), 0.01) as tf.Tensor3D;
    return optimizer.minimize(() => tf.losses.sigmoidCrossEntropy(labels, net.forward(ids, { training: true, rng, perturbation }).logits), true, net.variables)!;
  });
  tf.dispose(step());
  const count = tf.memory().numTensors;
  tf.dispose(step());
  assert.equal(tf.memory().numTensors, count, 'a training step leaks no tensors');
  net.variables.forEach((v, i) => assert.notDeepEqual(v.dataSync(), before[i], `${v.name} did not change`));
  tf.dispose([ids, labels]);
  optimizer.dispose();
  net.dispose();
});

test('sst2 --cnn: a mixed ensemble and a lone CNN train and save; impossible combinations are usage errors', async (t) => {
  const dir = tempDir(t);
  const data = sst2Subset(dir, { train: 400, dev: 60, test: 60 });
  const common = ['sst2', '--data-dir', data, '--epochs', '1', '--units', '6', '--embedding-dim', '6', '--cnn-filters', '5', '--embed-plot', 'none', '--json'];
  const mixedOut = path.join(dir, 'mixed');
  const mixed = await runCli([...common, '--ensemble', '1', '--cnn', '2', '--out', mixedOut]);
  assert.equal(mixed.code, 0, mixed.stderr);
  const run = JSON.parse(readFileSync(path.join(mixedOut, 'run.json'), 'utf8'));
  assert.equal(run.settings.model.members, 1);
  assert.equal(run.settings.model.cnnMembers, 2);
  assert.equal(run.settings.cnn, 2);
  const header = readFileSync(path.join(mixedOut, 'features.csv'), 'utf8').split('\n')[0].split(',');
  assert.equal(header.length, 4 + 12 + 2 * 15, 'pooled features: one BiLSTM (2 x 6) and two CNNs (3 widths x 5 filters)');
  const { model } = await loadClassifier(path.join(mixedOut, 'model'));
  assert.deepEqual(model.networks.map((n) => n.constructor.name), ['LstmSentimentClassifier', 'CnnSentimentClassifier', 'CnnSentimentClassifier']);
  model.dispose();

  const aloneOut = path.join(dir, 'alone');
  const alone = await runCli([...common, '--ensemble', '0', '--cnn', '1', '--out', aloneOut]);
  assert.equal(alone.code, 0, alone.stderr);
  assert.ok((lastJson(alone).testAccuracy as number) > 0);
  const lone = await loadClassifier(path.join(aloneOut, 'model'));
  assert.ok(lone.model instanceof CnnSentimentClassifier);
  lone.model.dispose();

  const none = await runCli([...common, '--ensemble', '0', '--cnn', '0', '--out', path.join(dir, 'none')]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no network to train/);
  const layer = await runCli([...common, '--ensemble', '0', '--cnn', '1', '--layer', 'lstm', '--out', path.join(dir, 'layer')]);
  assert.equal(layer.code, 2);
  assert.match(layer.stderr, /--layer 'lstm' does not exist in a model of CNN networks only; use one of embedding, pooled/);
});
