/**
 * The train-mnist loop as a small state object and short phases: `startTraining` builds (or
 * restores) the model and the checkpoint state, `trainStep` trains one batch, `trainEpoch` one
 * pass, `endEpoch` evaluates on the validation images and records the epoch, `saveCheckpoint`
 * writes the state as one object. All counters a resumed run needs live in `run.state`
 * (MnistTrainState), the one object the checkpoint saves.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../core/errors.js';
import { yieldToEventLoop, type InterruptWatch } from '../core/interrupt.js';
import { currentBackend } from '../core/backend.js';
import type { Logger } from '../core/log.js';
import { adamState, installFusedAdam, type AdamState } from '../core/optim.js';
import type { Progress } from '../core/progress.js';
import { createRng, type Rng } from '../core/rng.js';
import type { EpochMetrics } from '../core/run_record.js';
import { freshTrainState, loadCheckpointModel, writeMnistCheckpoint, type MnistCheckpoint, type MnistTrainState } from './checkpoint.js';
import { augmentShifts, makeBatch, type MnistSplit } from './data.js';
import { evaluateModel } from './evaluate.js';
import { closeReplicas, parallelTrainStep, replicaRandomStates, startReplicas, type ReplicaPool } from './parallel.js';
import { buildMnistCnn } from './model.js';
import type { TrainMnistSettings } from './options.js';

/** A run in progress: what the phases read, and the checkpoint state they advance. */
export interface MnistTraining {
  readonly settings: TrainMnistSettings;
  readonly model: tf.LayersModel;
  readonly adam: AdamState;
  /** The (limited) training split, and the indices of its training and validation images. */
  readonly train: MnistSplit;
  readonly trainIdx: number[];
  readonly valIdx: number[];
  readonly batchesPerEpoch: number;
  /** Shuffles the training images, one permutation per epoch (seeded with the run's seed itself). */
  readonly shuffleRng: Rng;
  /** Math.random's generator (tfjs draws initialisers and dropout masks from it). */
  readonly globalRng: Rng;
  /** Where the run stands: the one object a checkpoint saves. */
  readonly state: MnistTrainState;
  /** The replica threads with --workers > 1 (parallel.ts); undefined: trainOnBatch on this thread. */
  readonly replicas?: ReplicaPool;
}

/**
 * Builds the model from `settings` (Math.random already seeded: `globalRng`), or restores the
 * checkpoint's model, optimizer and random state. Returns the run at its first step.
 */
export async function startTraining(settings: TrainMnistSettings, split: { train: MnistSplit; trainIdx: number[]; valIdx: number[] },
  globalRng: Rng, resumed?: MnistCheckpoint): Promise<MnistTraining> {
  const shuffleRng = createRng(settings.seed);
  let model: tf.LayersModel;
  let state: MnistTrainState;
  if (resumed) {
    model = await loadCheckpointModel(resumed);
    state = resumed.state;
    adamState(model.optimizer).setBetaPowers(state.adamBetaPowers);
    globalRng.setState(state.globalRandomState);
  } else {
    model = buildMnistCnn({ learningRate: settings.lr, rows: split.train.rows, cols: split.train.cols });
    state = freshTrainState(settings, shuffleRng.getState());
  }
  // A checkpoint's optimizer (tfjs made it): the fused step as compileMnistCnn gives a new one.
  installFusedAdam(model.optimizer);
  const batchesPerEpoch = Math.ceil(split.trainIdx.length / settings.batchSize);
  const workers = settings.workers ?? 1;
  let replicas: ReplicaPool | undefined;
  if (workers > 1) {
    const backend = currentBackend();
    if (!backend) throw new Error('startTraining: initBackend must run first');
    try {
      replicas = await startReplicas(workers, { backend: backend.name, threads: Math.max(1, backend.threads), model: { rows: split.train.rows, cols: split.train.cols } },
        state.replicaRandomStates ?? []);
    } catch (err) {
      model.dispose();
      throw err;
    }
  }
  return { settings, model, adam: adamState(model.optimizer), ...split, batchesPerEpoch, shuffleRng, globalRng, state, replicas };
}

/** Ends the run's replica threads (if any) and frees its model. */
export async function disposeTraining(run: MnistTraining): Promise<void> {
  run.model.dispose();
  if (run.replicas) await closeReplicas(run.replicas);
}

/**
 * The error for a loss that is no longer finite: the run stops there and saves nothing as its
 * result (`batch` undefined: a loss measured at the end of an epoch).
 */
export function divergedError(what: string, value: number, epoch: number, batch: number | undefined, lr: number): InputError {
  return new InputError(`training diverged at epoch ${epoch}${batch !== undefined ? `, batch ${batch}` : ''}: the ${what} is ${value}; no result was saved; lower --lr (was ${lr}) and start again`);
}

/** Trains batch `state.batch` of the epoch's image order `order` and adds its loss and accuracy to the epoch's sums. */
export async function trainStep(run: MnistTraining, order: readonly number[]): Promise<void> {
  const { settings: s, state } = run;
  const idx = order.slice(state.batch * s.batchSize, (state.batch + 1) * s.batchSize);
  const shifts = s.augment > 0 ? augmentShifts(s.seed, state.epoch, state.batch, idx.length, s.augment) : undefined;
  let loss: number;
  let acc: number;
  if (run.replicas) {
    ({ loss, acc } = await parallelTrainStep(run.replicas, run.model, run.train, idx, shifts));
  } else {
    const { x, y } = makeBatch(run.train, idx, shifts);
    [loss, acc] = (await run.model.trainOnBatch(x, y)) as number[];
    x.dispose();
    y.dispose();
  }
  if (!Number.isFinite(loss)) throw divergedError('loss', loss, state.epoch, state.batch + 1, s.lr);
  const p = state.epochPartial;
  p.lossSum += loss * idx.length;
  p.accSum += acc * idx.length;
  p.seen += idx.length;
}

/**
 * Trains the rest of epoch `state.epoch` (from batch `state.batch`): the learning rate
 * lr * lrDecay^(epoch - 1), the epoch's shuffle replayed from its start. Returns false when an
 * interrupt stopped it after a batch (then state.batch is the next batch and the epoch's seconds
 * so far are in state.epochPartial), true at the end of the epoch with its training seconds.
 */
export async function trainEpoch(run: MnistTraining, progress: Progress, interrupts: InterruptWatch): Promise<{ finished: boolean; seconds: number }> {
  const { settings: s, state } = run;
  const t0 = Date.now();
  const elapsed = () => state.epochPartial.seconds + (Date.now() - t0) / 1000;
  run.adam.setLearningRate(s.lr * s.lrDecay ** (state.epoch - 1));
  run.shuffleRng.setState(state.shuffleStateAtEpochStart);
  const order = run.shuffleRng.shuffled(run.trainIdx);
  for (; state.batch < run.batchesPerEpoch; state.batch++) {
    await trainStep(run, order);
    const p = state.epochPartial;
    progress.update((state.epoch - 1) * run.batchesPerEpoch + state.batch + 1, { epoch: state.epoch, loss: p.lossSum / p.seen, acc: p.accSum / p.seen });
    await yieldToEventLoop(); // signals and the progress bar's timer run here
    if (interrupts.requested()) {
      state.epochPartial.seconds = elapsed();
      state.batch += 1;
      return { finished: false, seconds: state.epochPartial.seconds };
    }
  }
  return { finished: true, seconds: elapsed() };
}

/** Evaluates the finished epoch on the validation images, records it in state.history and moves the state to the next epoch. */
export function endEpoch(run: MnistTraining, seconds: number): EpochMetrics<'val'> {
  const { state } = run;
  const p = state.epochPartial;
  state.trainSeconds += seconds;
  const val = run.valIdx.length > 0 ? evaluateModel(run.model, run.train, run.valIdx) : undefined;
  if (val && !Number.isFinite(val.loss)) throw divergedError('validation loss', val.loss, state.epoch, undefined, run.settings.lr);
  const row: EpochMetrics<'val'> = {
    epoch: state.epoch,
    loss: p.lossSum / p.seen,
    acc: p.accSum / p.seen,
    val_loss: val ? val.loss : null,
    val_acc: val ? val.accuracy : null,
    seconds,
    samples_per_sec: p.seen / seconds,
  };
  state.history.push(row);
  state.epochPartial = { lossSum: 0, accSum: 0, seen: 0, seconds: 0 };
  state.shuffleStateAtEpochStart = run.shuffleRng.getState();
  state.epoch += 1;
  state.batch = 0;
  return row;
}

/** Saves the run where it stands (after an interrupt) as one checkpoint in `outDir`; returns its folder. */
export async function saveCheckpoint(run: MnistTraining, outDir: string): Promise<string> {
  run.state.globalRandomState = run.globalRng.getState();
  run.state.adamBetaPowers = run.adam.getBetaPowers();
  if (run.replicas) run.state.replicaRandomStates = await replicaRandomStates(run.replicas);
  return writeMnistCheckpoint(outDir, run.model, run.state);
}

/** One line per finished epoch. */
export function formatEpoch(h: EpochMetrics<'val'>): string {
  return `epoch ${h.epoch}: loss ${h.loss.toFixed(4)} acc ${h.acc.toFixed(4)}` +
    (h.val_acc !== null ? ` val_loss ${h.val_loss!.toFixed(4)} val_acc ${h.val_acc.toFixed(4)}` : '') +
    ` (${h.seconds.toFixed(1)} s, ${(h.samples_per_sec ?? 0).toFixed(0)} samples/s)`;
}

/**
 * Trains the remaining epochs. Returns false when interrupted: then a checkpoint was saved in
 * `outDir` and the command to continue was logged.
 */
export async function trainEpochs(run: MnistTraining, outDir: string, log: Logger, progress: Progress, interrupts: InterruptWatch): Promise<boolean> {
  while (run.state.epoch <= run.settings.epochs) {
    const { finished, seconds } = await trainEpoch(run, progress, interrupts);
    if (!finished) {
      progress.stop();
      const ckpt = await saveCheckpoint(run, outDir);
      const resumeCmd = `dnnkit train-mnist --resume ${path.relative(process.cwd(), outDir) || '.'}`;
      log.warn(`interrupted at epoch ${run.state.epoch}, batch ${run.state.batch}/${run.batchesPerEpoch}: checkpoint saved in ${ckpt}; continue with: ${resumeCmd}`);
      return false;
    }
    progress.log(formatEpoch(endEpoch(run, seconds)));
  }
  return true;
}
