/**
 * dnnkit mnist-sample: the PNGs hold the test images' pixels exactly, the names and samples.csv
 * carry the test index and label, --digit filters, and run.json lists the files with SHA-256.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { loadMnist } from '../../src/mnist/data.js';
import { pickSamples } from '../../src/mnist/sample.js';
import { runCli, tempDir } from '../helpers.js';

test('pickSamples: the first digits in test order, optionally of one label', () => {
  const labels = [3, 1, 3, 7, 3];
  assert.deepEqual(pickSamples(labels, 2), [0, 1]);
  assert.deepEqual(pickSamples(labels, 5, 3), [0, 2, 4]);
  assert.deepEqual(pickSamples(labels, 9, 8), []);
});

test('mnist-sample writes the test digits as PNGs (pixels exact), names with index and label, samples.csv, run.json', async (t) => {
  const out = tempDir(t);
  const res = await runCli(['mnist-sample', '--count', '2', '--digit', '4', '--out', out]);
  assert.equal(res.code, 0, res.stderr);
  const test = (await loadMnist()).test;
  const want = pickSamples(test.labels, 2, 4);
  const rows = readFileSync(path.join(out, 'samples.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  assert.deepEqual(rows.map((r) => Number(r[1])), want);
  for (const [file, index, label] of rows) {
    assert.equal(file, `test-${index.padStart(5, '0')}-label-${label}.png`);
    assert.equal(Number(label), 4);
    assert.match(res.stdout, new RegExp(`${file}\\t4`));
    const meta = await sharp(path.join(out, file)).metadata();
    assert.deepEqual([meta.width, meta.height, meta.channels], [28, 28, 1], 'a 28 x 28 grayscale PNG');
    const { data } = await sharp(path.join(out, file)).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    const n = 28 * 28;
    for (let p = 0; p < n; p++) assert.equal(data[p], Math.round(test.images[Number(index) * n + p] * 255));
  }
  const record = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8'));
  assert.equal(record.command, 'mnist-sample');
  assert.deepEqual(Object.keys(record.files).sort(), [...rows.map((r) => r[0]), 'samples.csv'].sort());
});

test('mnist-sample: bad --digit or --count is a usage error (exit 2, one line)', async () => {
  for (const args of [['--digit', '10'], ['--count', '0'], ['--count', 'many']]) {
    const res = await runCli(['mnist-sample', ...args, '--out', '/tmp/dnnkit-never']);
    assert.equal(res.code, 2, args.join(' '));
    assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
  }
});
