/**
 * Determinism (issue 7): the same command with the same --seed on the same backend gives identical
 * outputs, in separate processes. Already covered elsewhere: train-mnist (test/mnist/resume.test.ts:
 * an uninterrupted run in another process ends with identical weights and metrics) and t-SNE
 * coordinates (test/project/project.test.ts, test/project/tsne.test.ts). Added here: shap (sampled
 * Shapley values CSV) and sst2 for one epoch (metrics without the timing column, and the weights).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { initBackend } from '../../src/core/backend.js';
import { runCli, lastJson, sst2Subset } from '../helpers.js';
import { assertCleanError, makeTinyModel, noise } from './fixtures.js';

let work: string;

before(() => {
  work = mkdtempSync(path.join(tmpdir(), 'dnnkit-robust-det-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

test('shap: same --seed twice gives an identical CSV; another seed gives other sampled values', async () => {
  await initBackend();
  const model = await makeTinyModel(path.join(work, 'tiny'));
  const img = path.join(work, 'photo.png');
  await sharp(noise(48, 40, 3, 9), { raw: { width: 48, height: 40, channels: 3 } }).png().toFile(img);
  const shap = async (seed: number, out: string) => {
    const res = await runCli(['shap', '--model', model, '--patches', '9', '--samples', '4', '--seed', String(seed), '--out', path.join(work, out), '--json', img]);
    assert.equal(res.code, 0, res.stderr);
    const s = lastJson(res) as { images: { csv: string; phi: number[] }[] };
    return { csv: readFileSync(s.images[0].csv, 'utf8'), phi: s.images[0].phi };
  };
  const a = await shap(7, 'a');
  const b = await shap(7, 'b');
  const c = await shap(8, 'c');
  assert.equal(a.csv.trim().split('\n').length, 10, 'header + 9 patches');
  assert.equal(b.csv, a.csv, 'identical CSV for the same seed');
  assert.notDeepEqual(c.phi, a.phi, 'a different seed samples other permutations (so the check above can fail)');
});

test('sst2 --epochs 1 on a small subset: same --seed twice gives identical metrics (minus seconds) and weights', async () => {
  const data = sst2Subset(path.join(work, 'sst2'), { train: 400, dev: 120, test: 120 });
  const train = async (out: string) => {
    const res = await runCli(['sst2', '--data-dir', data, '--epochs', '1', '--units', '8', '--embedding-dim', '8', '--batch-size', '32',
      '--embed-plot', 'none', '--seed', '5', '--out', path.join(work, out), '--json']);
    assert.equal(res.code, 0, res.stderr);
    const metrics = readFileSync(path.join(work, out, 'metrics.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
    const seconds = metrics[0].indexOf('seconds');
    assert.ok(seconds >= 0, `metrics.csv has a seconds column: ${metrics[0].join(',')}`);
    return {
      summary: lastJson(res),
      metrics: metrics.map((row) => row.filter((_, i) => i !== seconds).join(',')),
      weights: readFileSync(path.join(work, out, 'model', 'weights.bin')),
      features: readFileSync(path.join(work, out, 'features.csv'), 'utf8'),
    };
  };
  const a = await train('a');
  const b = await train('b');
  assert.equal(a.metrics.length, 2, 'header + 1 epoch');
  assert.deepEqual(b.metrics, a.metrics, 'identical metrics');
  assert.ok(b.weights.equals(a.weights), 'identical weights');
  assert.equal(b.features, a.features, 'identical features.csv');
  assert.equal(b.summary.devAccuracy, a.summary.devAccuracy);

  // The saved model with its weights file gone: sst2 predict says which file is missing.
  rmSync(path.join(work, 'a', 'model', 'weights.bin'));
  const res = await runCli(['sst2', 'predict', '--model', path.join(work, 'a', 'model'), 'a fine film']);
  assertCleanError(res, 1, /weights\.bin/);
});
