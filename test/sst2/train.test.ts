import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { runCli, lastJson, tempDir, listFiles, sst2Subset as subset } from '../helpers.js';
import { initBackend } from '../../src/core/backend.js';
import { encodeSentences, tokenize } from '../../src/sst2/data.js';
import { loadClassifier } from '../../src/sst2/saved.js';
import { predictSplit } from '../../src/sst2/evaluate.js';

test('sst2: a short run on a subset beats chance clearly; outputs, saved model and predict round trip', async (t) => {
  const dir = tempDir(t);
  const data = subset(dir, { train: 2500, dev: 300, test: 300 });
  const out = path.join(dir, 'out');
  const res = await runCli(['sst2', '--data-dir', data, '--out', out, '--epochs', '4', '--units', '32', '--embedding-dim', '32',
    '--embed-plot', 'pca', '--seed', '3', '--ema-decay', '0.99', '--ensemble', '1', '--json']);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout.trim().split('\n').length, 1, 'stdout holds only the JSON summary');
  const summary = lastJson(res);
  for (const key of ['devAccuracy', 'testAccuracy', 'epochs', 'backend']) assert.ok(key in summary, key);
  // Chance is 50% (the subset is balanced to within a few points); 4 epochs of 2,500 sentences give ~65-70%.
  assert.ok((summary.devAccuracy as number) >= 0.6, `dev accuracy ${summary.devAccuracy}`);
  assert.ok((summary.testAccuracy as number) >= 0.6, `test accuracy ${summary.testAccuracy}`);
  assert.equal(summary.layout, 'sentence');

  const files = listFiles(out);
  for (const f of ['metrics.csv', 'curves.png', 'curves.svg', 'run.json', 'features.csv', 'embed-pca.png', 'embed-pca.svg',
    'pca-explained-variance.csv', 'projection-summary.csv', 'model/model.json', 'model/weights.bin', 'model/vocab.json']) {
    assert.ok(files.includes(f), `${f} missing; got ${files.join(', ')}`);
  }
  assert.ok(!files.some((f) => f.includes('.dnnkit-tmp')), 'no temporary files left');
  const metrics = readFileSync(path.join(out, 'metrics.csv'), 'utf8').trim().split('\n');
  assert.equal(metrics[0], 'epoch,loss,acc,dev_loss,dev_acc,seconds');
  assert.equal(metrics.length - 1, summary.epochs);
  const run = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8'));
  assert.equal(run.settings.units, 32);
  assert.equal(run.settings.pooling, 'max');
  assert.equal(run.settings.emaDecay, 0.99);
  assert.equal(run.settings.model.pooling, 'max');
  assert.equal(run.settings.model.bidirectional, true);
  assert.equal(run.seed, 3);
  assert.ok(run.backend.name && run.versions['@tensorflow/tfjs']);

  // features.csv: one row per dev and test sentence, the pooled BiLSTM states (2 x 32 units).
  const features = readFileSync(path.join(out, 'features.csv'), 'utf8').trim().split('\n');
  assert.equal(features.length, 1 + 300 + 300);
  const header = features[0].split(',');
  assert.deepEqual(header.slice(0, 5), ['id', 'split', 'label', 'predicted', 'f0']);
  assert.equal(header.length, 4 + 64);
  // label and predicted by name, so every plot of this CSV says negative/positive
  const devLabels = readFileSync(path.join(data, 'dev.tsv'), 'utf8').split('\n').filter(Boolean).map((l) => (l.split('\t')[1].trim() === '1' ? 'positive' : 'negative'));
  features.slice(1, 301).forEach((row, i) => {
    const [, split, label, predicted] = row.split(',');
    assert.equal(split, 'dev');
    assert.equal(label, devLabels[i]);
    assert.ok(predicted === 'positive' || predicted === 'negative', predicted);
  });

  // The saved model (the averaged weights), loaded back in this process, reproduces the run's dev accuracy.
  await initBackend();
  const { model, vocab } = await loadClassifier(path.join(out, 'model'));
  assert.equal(model.config.pooling, 'max');
  const devLines = readFileSync(path.join(data, 'dev.tsv'), 'utf8').split('\n');
  const split = encodeSentences(devLines.map((l) => tokenize(l.split('\t')[0])), vocab);
  assert.ok(split.subwords, 'the defaults have subword vectors');
  const before = tf.memory().numTensors;
  const { probs } = await predictSplit(model, split, 64);
  assert.equal(tf.memory().numTensors, before, 'prediction leaks no tensors');
  const labels = devLines.map((l) => Number(l.split('\t')[1]));
  const acc = labels.filter((y, i) => (probs[i] >= 0.5 ? 1 : 0) === y).length / labels.length;
  assert.ok(Math.abs(acc - (summary.devAccuracy as number)) < 1e-9, `reloaded dev accuracy ${acc} vs ${summary.devAccuracy}`);

  // `sst2 predict` prints the same probability for a sentence.
  const sentence = devLines[0].split('\t')[0];
  const pred = await runCli(['sst2', 'predict', '--model', path.join(out, 'model'), sentence, 'an utterly dreadful , boring film']);
  assert.equal(pred.code, 0, pred.stderr);
  const lines = pred.stdout.trim().split('\n');
  assert.equal(lines.length, 2);
  const p0 = Number(lines[0].split('\t')[0]);
  assert.ok(p0 >= 0 && p0 <= 1);
  assert.ok(Math.abs(p0 - probs[0]) < 1e-3, `predict printed ${p0}, in-process ${probs[0]}`);
  const predJson = await runCli(['sst2', 'predict', '--model', path.join(out, 'model'), '--json', 'a great movie']);
  assert.equal(predJson.code, 0, predJson.stderr);
  const pj = lastJson(predJson) as { predictions: { positive: number; label: string }[] };
  assert.equal(pj.predictions.length, 1);
  assert.ok(pj.predictions[0].positive >= 0 && pj.predictions[0].positive <= 1);
  model.dispose();
  assert.ok(existsSync(path.join(out, 'curves.png')));
});
