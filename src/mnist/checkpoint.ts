/**
 * The checkpoint of an interrupted train-mnist run, one object (MnistTrainState) saved in one
 * place by the core helper (core/checkpoint.ts: one atomic folder, payload checksums): the
 * model with its optimizer (tfjs's model.json + weights.bin) and state.json. --resume continues
 * it bit for bit.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readCheckpoint, StateChecker, STATE_JSON, writeCheckpoint } from '../core/checkpoint.js';
import { InputError } from '../core/errors.js';
import { fileLoadHandler, fileSaveHandler, MODEL_JSON } from '../core/model_io.js';
import type { EpochMetrics } from '../core/run_record.js';
import { MAX_WORKERS, type TrainMnistSettings } from './options.js';
import { freshReplicaRandomStates } from './parallel.js';

/** Everything needed to continue a run exactly where it stopped (checkpoint/state.json). */
export interface MnistTrainState {
  version: 1;
  /** Whose checkpoint this is (absent in checkpoints from before it was recorded). */
  command?: 'train-mnist';
  settings: TrainMnistSettings;
  /** The epoch in progress (1-based) and the next batch in it. */
  epoch: number;
  batch: number;
  /** Shuffle generator state at the start of the epoch in progress (replays its order). */
  shuffleStateAtEpochStart: number;
  /** Math.random generator state now (dropout masks, as tfjs draws them). */
  globalRandomState: number;
  /** Math.random generator states of the replica threads 1 .. workers - 1 (--workers > 1; absent otherwise). */
  replicaRandomStates?: number[];
  /** Adam's running beta powers: restored exactly (tfjs would recompute them with pow; see core/optim.ts). */
  adamBetaPowers: [number, number];
  history: EpochMetrics<'val'>[];
  /** The epoch in progress so far: summed loss and accuracy (times batch sizes), images, seconds. */
  epochPartial: { lossSum: number; accSum: number; seen: number; seconds: number };
  trainSeconds: number;
}

/** The state of a run that has not trained yet. */
export function freshTrainState(settings: TrainMnistSettings, shuffleState: number): MnistTrainState {
  const workers = settings.workers ?? 1;
  return {
    version: 1, command: 'train-mnist', settings, epoch: 1, batch: 0, shuffleStateAtEpochStart: shuffleState, globalRandomState: 0,
    ...(workers > 1 ? { replicaRandomStates: freshReplicaRandomStates(settings.seed, workers) } : {}),
    adamBetaPowers: [0, 0], history: [], epochPartial: { lossSum: 0, accSum: 0, seen: 0, seconds: 0 }, trainSeconds: 0,
  };
}

/** Checks the fields of a state.json; `batch`'s upper bound is checked by the caller once the data is loaded. */
function checkState(file: string, raw: Record<string, unknown>): StateChecker {
  const c = new StateChecker(file, raw);
  c.object('settings');
  const epochs = c.int('settings.epochs', 1);
  c.int('settings.batchSize', 1);
  c.int('settings.seed', 0, 2 ** 31 - 1);
  c.number('settings.lr', 0);
  c.number('settings.lrDecay', 0, 1);
  c.int('settings.augment', 0, 4);
  c.number('settings.validationSplit', 0, 0.999999);
  const workers = raw.settings && (raw.settings as Record<string, unknown>).workers !== undefined ? c.int('settings.workers', 1, MAX_WORKERS) : 1;
  if (workers > 1) {
    c.array('replicaRandomStates', workers - 1);
    for (let k = 0; k < workers - 1; k++) c.rngState(`replicaRandomStates.${k}`);
  }
  const epoch = c.int('epoch', 1, epochs);
  c.int('batch', 0);
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
  return c;
}

/** A checkpoint read back: its state, the run's folder, and the model with its optimizer's moments. */
export interface MnistCheckpoint {
  state: MnistTrainState;
  outDir: string;
  /** The checkpoint folder (its model.json is loaded by loadCheckpointModel). */
  dir: string;
  /** Checks `batch` against the batches per epoch once the data is loaded. */
  checker: StateChecker;
}

/**
 * Reads the checkpoint of an interrupted run (core/checkpoint.ts checks that its files belong
 * together) and checks its state's fields.
 */
export async function readMnistCheckpoint(arg: string): Promise<MnistCheckpoint> {
  const { outDir, dir, state: raw } = await readCheckpoint(arg, 'train-mnist');
  if (raw.command !== undefined && raw.command !== 'train-mnist') {
    throw new InputError(`--resume ${arg}: the checkpoint there was written by dnnkit ${String(raw.command)}, not train-mnist; resume it with dnnkit ${String(raw.command)} --resume ${arg}`);
  }
  if (raw.version !== 1) throw new InputError(`--resume ${arg}: checkpoint version ${String(raw.version)} is not supported`);
  const checker = checkState(path.join(dir, STATE_JSON), raw);
  // Checkpoints from before --workers trained with one replica.
  (raw.settings as Record<string, unknown>).workers ??= 1;
  return { state: raw as unknown as MnistTrainState, outDir, dir, checker };
}

/** The checkpoint's model, compiled with its optimizer's moments (the beta powers are in the state). */
export function loadCheckpointModel(ckpt: MnistCheckpoint): Promise<tf.LayersModel> {
  return tf.loadLayersModel(fileLoadHandler(path.join(ckpt.dir, MODEL_JSON)));
}

/** Saves model + optimizer + state as one checkpoint (core/checkpoint.ts); returns its folder. */
export function writeMnistCheckpoint(outDir: string, model: tf.LayersModel, state: MnistTrainState): Promise<string> {
  return writeCheckpoint(outDir, state, async (dir) => {
    await model.save(fileSaveHandler(dir), { includeOptimizer: true });
  });
}
