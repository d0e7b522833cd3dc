/**
 * A short MNIST training run end to end: it must beat 90% on the 10,000 held-out test digits,
 * write every output, and the saved model must load back with the same predictions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { runTrainMnist as trainMnist } from '../../src/mnist/train.js';
import { runEvalMnist as evalMnist } from '../../src/mnist/evaluate_saved.js';
import { listFiles, tempDir } from '../helpers.js';

test('train-mnist on 4,000 digits for 2 epochs beats 90% test accuracy and writes every output', async (t) => {
  const out = tempDir(t);
  const summary = await trainMnist({
    out, seed: 1, json: true, debug: false, backend: 'wasm',
    epochs: 2, batchSize: 32, lr: 1e-3, lrDecay: 0.8, augment: 0, validationSplit: 0.1, limit: 4000,
  });
  assert.ok(summary.testAccuracy > 0.9, `test accuracy ${summary.testAccuracy}`);
  assert.equal(summary.trainSamples, 3600);
  assert.equal(summary.validationSamples, 400);
  assert.equal(summary.backend, 'wasm');
  const files = listFiles(out);
  for (const f of ['model.json', 'weights.bin', 'metrics.csv', 'confusion.csv', 'confusion.png', 'curves.png', 'errors.png', 'run.json']) {
    assert.ok(files.includes(f), `${f} written`);
  }
  assert.ok(!files.some((f) => f.includes('.dnnkit-tmp-')), 'no temporary files left');
  const metrics = readFileSync(path.join(out, 'metrics.csv'), 'utf8').trim().split('\n');
  assert.equal(metrics[0], 'epoch,loss,acc,val_loss,val_acc,seconds,samples_per_sec');
  assert.equal(metrics.length, 3);
  const confusion = readFileSync(path.join(out, 'confusion.csv'), 'utf8').trim().split('\n').slice(1)
    .map((l) => l.split(',').slice(1).map(Number));
  assert.equal(confusion.flat().reduce((a, b) => a + b, 0), 10000);
  const runJson = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8'));
  assert.equal(runJson.settings.seed, 1);
  assert.equal(runJson.result.testAccuracy, summary.testAccuracy);

  // Round trip: the saved model, loaded back, scores exactly the same on the test set.
  const evalOut = tempDir(t);
  const ev = await evalMnist({ model: out, out: evalOut, seed: 42, json: true, debug: false, backend: 'wasm' });
  assert.equal(ev.testAccuracy, summary.testAccuracy);
  assert.ok(Math.abs(ev.testLoss - summary.testLoss) < 1e-6);
});

test('makeBatch: one-hot labels and translated copies with a zero border', async () => {
  const { makeBatch } = await import('../../src/mnist/train.js');
  const images = Float32Array.from({ length: 2 * 9 }, (_, i) => i + 1); // two 3x3 images, values 1..18
  const split = { images, labels: Uint8Array.from([4, 7]), count: 2, rows: 3, cols: 3 };
  const { x, y } = makeBatch(split, [1, 0], Int8Array.from([1, -1, 0, 0]));
  // image 1 (values 10..18) moved down 1 and left 1; image 0 unchanged.
  assert.deepEqual(Array.from(x.dataSync()), [0, 0, 0, 11, 12, 0, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(Array.from(y.argMax(-1).dataSync()), [7, 4]);
  x.dispose();
  y.dispose();
});
