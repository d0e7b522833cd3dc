import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { buildVocabulary, encodeSentences, loadSst2 } from '../../src/sst2/data.js';
import { createClassifier, EnsembleClassifier, featureLayerNames, LstmSentimentClassifier, memberSeed, type Sst2ModelConfig } from '../../src/sst2/model.js';
import { loadClassifier, saveClassifier } from '../../src/sst2/saved.js';
import { lossAndAccuracy, predictSplit } from '../../src/sst2/evaluate.js';
import { networkGradients } from '../../src/sst2/step.js';
import { createRng } from '../../src/core/rng.js';
import { lastJson, runCli, sst2Subset, tempDir } from '../helpers.js';

const base: Sst2ModelConfig = { vocabSize: 12, embeddingDim: 4, units: 3, layers: 1, bidirectional: true, dropout: 0, pooling: 'max' };

/** A tiny `sst2` run (8 units, 8-d vectors) on a subset of the shipped data; the run must succeed. */
async function tinyRun(t: TestContext, sizes: Record<string, number>, args: string[]) {
  const dir = tempDir(t);
  const data = sst2Subset(dir, sizes);
  const out = path.join(dir, 'out');
  const res = await runCli(['sst2', '--data-dir', data, '--out', out, '--units', '8', '--embedding-dim', '8', '--embed-plot', 'none', '--json', ...args]);
  assert.equal(res.code, 0, res.stderr);
  return { dir, data, out, res, run: JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) };
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `[${i}] ${a[i]} vs ${b[i]}`);
}

test('ensemble: each member is the single network of its seed; the output is the mean member probability, features are concatenated', async () => {
  await initBackend();
  const ens = createClassifier({ ...base, members: 3 }, 7);
  assert.ok(ens instanceof EnsembleClassifier);
  assert.equal(ens.config.members, 3);
  assert.equal(memberSeed(7, 0), 7, 'member 1 uses the run seed itself');
  const singles = [0, 1, 2].map((k) => new LstmSentimentClassifier(base, memberSeed(7, k)));
  assert.equal(ens.parameterCount, 3 * singles[0].parameterCount);
  assert.deepEqual(Object.keys(ens.namedWeights()).slice(0, 2), ['member1/embedding', 'member1/lstm1_fw/kernel']);
  ens.members.forEach((m, k) => m.variables.forEach((v, i) => assert.deepEqual(v.dataSync(), singles[k].variables[i].dataSync())));
  // Different seeds: the members differ.
  assert.notDeepEqual(ens.members[0].embedding.dataSync(), ens.members[1].embedding.dataSync());

  const ids = tf.tensor2d(Int32Array.from([2, 3, 4, 5, 6, 7, 8, 9]), [2, 4], 'int32');
  const before = tf.memory().numTensors;
  const [p, pooled, ...each] = tf.tidy(() => {
    const r = ens.forward(ids, { training: false, features: ['pooled'] });
    return [tf.sigmoid(r.logits), r.features.pooled, ...singles.map((s) => s.forward(ids, { training: false, features: ['pooled'] }))
      .flatMap((o) => [tf.sigmoid(o.logits), o.features.pooled])];
  });
  const mean = [0, 1].map((i) => [0, 2, 4].reduce((a, k) => a + each[k].dataSync()[i], 0) / 3);
  close(p.dataSync(), mean);
  assert.deepEqual(pooled.shape, [2, 3 * 6]);
  const expected = tf.tidy(() => tf.concat([each[1], each[3], each[5]], 1));
  close(pooled.dataSync(), expected.dataSync());
  tf.dispose([p, pooled, ...each, expected]);
  assert.equal(tf.memory().numTensors, before, 'inference leaks no tensors');
  assert.deepEqual(featureLayerNames(ens.config), featureLayerNames(base));
  ids.dispose();
  ens.dispose();
  singles.forEach((s) => s.dispose());
});

test('sst2 --ensemble 2 without dropout: member 1 ends the epoch with exactly the weights of the single run of the same seed', async (t) => {
  // Word and unit dropout off, so the random stream only orders the batches, as in the single run;
  // each member must then take the steps it would take alone (its own gradient, its own clipping).
  const dir = tempDir(t);
  const data = sst2Subset(dir, { train: 500, dev: 60, test: 60 });
  const run = async (members: number) => {
    const out = path.join(dir, `e${members}`);
    const res = await runCli(['sst2', '--data-dir', data, '--out', out, '--epochs', '1', '--units', '6', '--embedding-dim', '6',
      '--dropout', '0', '--word-dropout', '0', '--clip-norm', '0.05', '--ensemble', String(members), '--embed-plot', 'none', '--seed', '4', '--json']);
    assert.equal(res.code, 0, res.stderr);
    return (await loadClassifier(path.join(out, 'model'))).model;
  };
  await initBackend();
  const single = await run(1);
  const ens = await run(2);
  const w = ens.namedWeights();
  for (const [name, v] of Object.entries(single.namedWeights())) assert.deepEqual(w[`member1/${name}`].dataSync(), v.dataSync(), name);
  assert.notDeepEqual(w['member2/embedding'].dataSync(), single.namedWeights().embedding.dataSync());
  single.dispose();
  ens.dispose();
});

test('ensemble: save and load round trip; a member missing from the weights is an error', async (t) => {
  await initBackend();
  const dir = tempDir(t);
  const vocab = buildVocabulary(Array.from({ length: 2 }, (_, i) => ({ id: `t-${i}`, tokens: ['a', 'b', 'c'], label: 1 as const, line: i + 1 })), 1);
  const config: Sst2ModelConfig = { ...base, vocabSize: vocab.tokens.length, members: 2 };
  const ens = createClassifier(config, 11);
  await saveClassifier(ens, vocab, dir);
  const { model: loaded } = await loadClassifier(dir);
  assert.equal(loaded.config.members, 2);
  const ids = tf.tensor2d(Int32Array.from([2, 3, 4]), [1, 3], 'int32');
  const [a, b] = tf.tidy(() => [ens.forward(ids, { training: false }).logits, loaded.forward(ids, { training: false }).logits]);
  close(a.dataSync(), b.dataSync());
  tf.dispose([a, b, ids]);
  loaded.dispose();
  // Weights of one network under an ensemble's config: member1/ names are missing.
  const single = createClassifier({ ...config, members: 1 }, 11);
  assert.throws(() => createClassifier(config, 0, single.namedWeights()), /weight embedding is missing/);
  single.dispose();
  ens.dispose();
});

test('sst2 --ensemble 2: trains two members, saves one model whose predictions reproduce the dev accuracy', async (t) => {
  const { dir, data, out, res, run } = await tinyRun(t, { train: 600, dev: 100, test: 100 }, ['--epochs', '2', '--ensemble', '2', '--seed', '2']);
  const summary = lastJson(res);
  assert.equal(run.settings.ensemble, 2);
  assert.equal(run.settings.model.members, 2);
  assert.equal(summary.parameters, run.result.parameters);
  const features = readFileSync(path.join(out, 'features.csv'), 'utf8').split('\n')[0].split(',');
  assert.equal(features.length, 4 + 2 * 16, 'pooled features of both members');
  const devLines = readFileSync(path.join(data, 'dev.tsv'), 'utf8').split('\n');
  const pred = await runCli(['sst2', 'predict', '--model', path.join(out, 'model'), '--json', ...devLines.map((l) => l.split('\t')[0])]);
  assert.equal(pred.code, 0, pred.stderr);
  const probs = (lastJson(pred) as { predictions: { positive: number }[] }).predictions.map((p) => p.positive);
  const acc = devLines.filter((l, i) => (probs[i] >= 0.5 ? 1 : 0) === Number(l.split('\t')[1])).length / devLines.length;
  assert.ok(Math.abs(acc - (summary.devAccuracy as number)) < 1e-9, `predict gives dev accuracy ${acc}, the run ${summary.devAccuracy}`);
  const bad = await runCli(['sst2', '--ensemble', '0', '--out', path.join(dir, 'bad')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--ensemble/);
});

test('sst2 --early-stopping network: each network keeps its own best dev epoch and stops training after --patience epochs without one', async (t) => {
  const patience = 1;
  const { out, data, res, run } = await tinyRun(t, { train: 600, dev: 100, test: 100 },
    ['--epochs', '6', '--patience', String(patience), '--learning-rate', '0.02', '--ensemble', '3', '--early-stopping', 'network', '--seed', '1']);
  const summary = lastJson(res);
  assert.equal(run.settings.earlyStopping, 'network');
  const lines = readFileSync(path.join(out, 'metrics.csv'), 'utf8').trim().split('\n');
  assert.deepEqual(lines[0].split(','), ['epoch', 'loss', 'acc', 'dev_loss', 'dev_acc', 'seconds', 'dev_acc_net1', 'dev_acc_net2', 'dev_acc_net3']);
  const rows = lines.slice(1).map((l) => l.split(','));
  const kept = summary.networkBestEpochs as number[];
  assert.equal(kept.length, 3);
  for (let k = 0; k < 3; k++) {
    const column = rows.map((r) => (r[6 + k] === '' ? null : Number(r[6 + k])));
    // The network trained (and was evaluated) up to `patience` epochs past its best, then stopped.
    const trained = Math.min(kept[k] + patience, rows.length);
    assert.deepEqual(column.map((a) => a !== null), rows.map((_, e) => e < trained), `network ${k + 1} trained epochs 1..${trained}`);
    const accs = column.filter((a): a is number => a !== null);
    assert.equal(accs.indexOf(Math.max(...accs)) + 1, kept[k], `network ${k + 1} keeps its first best epoch`);
  }
  assert.ok(kept.some((e) => e + patience < rows.length), `a network stopped before the run ended (kept epochs ${kept})`);
  assert.equal(summary.bestEpoch, Math.max(...kept));
  assert.equal(rows.length, Math.min(6, Math.max(...kept) + patience), 'the run ends when every network has stopped');

  // The saved model holds each network at its kept epoch: alone, each scores its best dev
  // accuracy; together they score the last row's (the kept ensemble's) dev accuracy.
  await initBackend();
  const { model, vocab } = await loadClassifier(path.join(out, 'model'));
  const dev = (await loadSst2(data)).dev.examples;
  const split = encodeSentences(dev.map((e) => e.tokens), vocab);
  const labels = dev.map((e) => e.label as number);
  for (const [k, net] of model.networks.entries()) {
    const { acc } = lossAndAccuracy((await predictSplit(net, split, 64)).probs, labels);
    assert.ok(Math.abs(acc - Number(rows[kept[k] - 1][6 + k])) < 1e-6, `network ${k + 1}: ${acc} vs the metrics' ${rows[kept[k] - 1][6 + k]}`);
  }
  const { acc } = lossAndAccuracy((await predictSplit(model, split, 64)).probs, labels);
  assert.ok(Math.abs(acc - (summary.devAccuracy as number)) < 1e-9);
  assert.ok(Math.abs(acc - Number(rows[rows.length - 1][4])) < 1e-6, `kept ensemble ${acc} vs the last row's dev_acc ${rows[rows.length - 1][4]}`);
  model.dispose();
});

test('adversarial training: the perturbation is, per sentence, the clean loss gradient for the word vectors (finite differences) scaled to a share of their norm', async () => {
  await initBackend();
  // Mean pooling: smooth, so that finite differences do not cross the switch points of a max.
  const net = new LstmSentimentClassifier({ ...base, dropout: 0, pooling: 'mean' }, 5);
  const ids = tf.tensor2d(Int32Array.from([2, 3, 4, 5, 6, 7]), [2, 3], 'int32');
  const labels = tf.tensor1d([1, 0]);
  const loss = (logits: tf.Tensor1D) => tf.losses.sigmoidCrossEntropy(labels, logits) as tf.Scalar;
  const before = tf.memory().numTensors;
  const step = networkGradients(net, { ids, labels }, 0.25, createRng(1), true);
  const r = step.perturbation!;
  tf.dispose(Object.values(step.dense));
  assert.equal(tf.memory().numTensors, before + 1, 'only the perturbation is left');
  const words = net.wordVectors(ids);
  const lossAt = (p: tf.Tensor3D) => tf.tidy(() => loss(net.forward(ids, { training: false, perturbation: p }).logits).dataSync()[0]);
  const rv = r.dataSync();
  const wv = words.dataSync();
  const [time, batch, dim] = words.shape;
  // Central differences of the loss in every coordinate of the word vectors.
  const h = 1e-2;
  const fd = new Float64Array(rv.length);
  for (let i = 0; i < rv.length; i++) {
    const shifted = (sign: number) => tf.tensor3d(Float32Array.from({ length: rv.length }, (_, e) => (e === i ? sign * h : 0)), [time, batch, dim]);
    const plus = shifted(1);
    const minus = shifted(-1);
    fd[i] = (lossAt(plus) - lossAt(minus)) / (2 * h);
    tf.dispose([plus, minus]);
  }
  for (let b = 0; b < batch; b++) {
    let rn = 0, wn = 0, gn = 0, dot = 0;
    for (let t = 0; t < time; t++) for (let d = 0; d < dim; d++) {
      const e = (t * batch + b) * dim + d;
      rn += rv[e] ** 2; wn += wv[e] ** 2; gn += fd[e] ** 2; dot += rv[e] * fd[e];
    }
    assert.ok(Math.abs(Math.sqrt(rn) - 0.25 * Math.sqrt(wn)) < 1e-5 * Math.sqrt(wn), `sentence ${b}: |r| = ${Math.sqrt(rn)}, 0.25 |w| = ${0.25 * Math.sqrt(wn)}`);
    const cos = dot / Math.sqrt(rn * gn);
    assert.ok(cos > 0.999, `sentence ${b}: cos(r, finite-difference gradient) = ${cos}`);
  }
  // Moving up the gradient raises the loss.
  const zero = tf.zerosLike(r);
  assert.ok(lossAt(r) > lossAt(zero), 'the perturbed batch has a higher loss');
  // An ensemble is perturbed through its member networks (the trainer does that), not as a whole.
  const ens = createClassifier({ ...base, members: 2 }, 5);
  assert.throws(() => ens.forward(ids, { training: false, perturbation: r }), /each member network/);
  tf.dispose([r, words, zero, ids, labels]);
  ens.dispose();
  net.dispose();
});

test('sst2 --adversarial: the run records it, and metrics.csv reports the clean loss (not clean + adversarial)', async (t) => {
  const { out, run } = await tinyRun(t, { train: 400, dev: 80, test: 80 }, ['--epochs', '1', '--adversarial', '0.2']);
  assert.equal(run.settings.adversarial, 0.2);
  // One epoch from scratch: the clean loss is near ln 2 = 0.69; the sum of both parts would be near 1.39.
  const loss = Number(readFileSync(path.join(out, 'metrics.csv'), 'utf8').trim().split('\n')[1].split(',')[1]);
  assert.ok(loss > 0.4 && loss < 0.8, `epoch-1 loss ${loss}`);
});
