/**
 * Checkpoints of an interrupted `dnnkit sst2` run, written and read by the one checkpoint helper
 * (core/checkpoint.ts: one atomic folder, payload checksums in state.json): `tensors.bin` (the
 * model's weights, Adam's moments and the weight average, float32 via tf.io.encodeWeights) and
 * `state.json` (where the run stopped, random state, metrics so far). A run resumed from it with
 * `--resume` ends with exactly the weights and metrics of an uninterrupted run.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../core/errors.js';
import { readCheckpoint, StateChecker, STATE_JSON, writeCheckpoint } from '../core/checkpoint.js';
import type { EpochMetrics } from '../core/run_record.js';

const TENSORS_BIN = 'tensors.bin';

/** Where an interrupted run stopped and what it had measured. */
export interface Sst2TrainState {
  version: 1;
  /** Whose checkpoint this is (absent in checkpoints from before it was recorded). */
  command?: 'sst2';
  /** The options the run started with (a resumed run continues with them). */
  options: Record<string, unknown>;
  /** Epoch in progress (1-based) and the batches of it already trained. */
  epoch: number;
  batch: number;
  /** State of the run's random generator before this epoch's batches were drawn, and now. */
  rngAtEpochStart: number;
  rng: number;
  /** This epoch so far: summed loss, correct predictions, sentences, seconds. */
  partial: { lossSum: number; correct: number; seen: number; seconds: number };
  /** Finished epochs' metrics rows, the best epoch so far, training totals. */
  rows: EpochMetrics<'dev'>[];
  best: { epoch: number; devAcc: number; devLoss: number };
  /** With --early-stopping network: each network's best epoch so far (its weights are in the saved model). */
  networkBest?: { epoch: number; devAcc: number; devLoss: number }[];
  trainSeconds: number;
  trainSentences: number;
  /** Adam's beta powers (restored exactly, not recomputed as beta^t). */
  adamBetaPowers: [number, number];
  /**
   * The beta powers of the tables' Adam (core/table_adam.ts). Absent in checkpoints from before
   * it (their Adam moments cover the tables too): those cannot be resumed.
   */
  tableAdamPowers?: [number, number];
  /** Updates folded into the weight average (0 when off). */
  averageUpdates: number;
  /** Names and shapes of the tensors in tensors.bin: model/<name>, adam/<k>, average/<k>, table_adam/<k>. */
  tensors: tf.io.WeightsManifestEntry[];
}

/** Writes the checkpoint as one unit (see core/checkpoint.ts); returns its folder. */
export async function writeSst2Checkpoint(outDir: string, state: Omit<Sst2TrainState, 'tensors' | 'command'>, tensors: tf.NamedTensorMap): Promise<string> {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  const bytes = Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data;
  const full: Sst2TrainState = { ...state, command: 'sst2', tensors: specs };
  return writeCheckpoint(outDir, full, (dir) => fsp.writeFile(path.join(dir, TENSORS_BIN), new Uint8Array(bytes)));
}

/**
 * Checks the counters of a checkpoint's state (impossible values, such as a hand-edited
 * `"epoch": -3`, are refused); the batch's upper bound is checked by the caller once the epoch's
 * batches are drawn, with the returned checker.
 */
function checkState(file: string, state: Record<string, unknown>): StateChecker {
  const c = new StateChecker(file, state);
  c.object('options');
  const epochs = c.int('options.epochs', 1);
  c.int('options.patience', 1);
  c.int('options.batchSize', 1);
  c.int('options.seed', 0, 2 ** 31 - 1);
  const epoch = c.int('epoch', 1, epochs);
  c.int('batch', 0);
  c.rngState('rngAtEpochStart');
  c.rngState('rng');
  for (const f of ['lossSum', 'correct', 'seen', 'seconds']) c.number(`partial.${f}`, 0);
  c.array('rows', epoch - 1);
  c.int('best.epoch', 0, epoch - 1);
  c.number('best.devAcc', -1, 1);
  c.number('trainSeconds', 0);
  c.number('trainSentences', 0);
  c.array('adamBetaPowers', 2);
  c.number('adamBetaPowers.0', 0, 1);
  c.number('adamBetaPowers.1', 0, 1);
  c.int('averageUpdates', 0);
  c.array('tableAdamPowers', 2);
  c.number('tableAdamPowers.0', 0, 1);
  c.number('tableAdamPowers.1', 0, 1);
  if (state.networkBest !== undefined) {
    c.array('networkBest').forEach((_, k) => c.int(`networkBest.${k}.epoch`, 0, epoch - 1));
  }
  return c;
}

/** Reads the checkpoint in `dir` (the --out of the interrupted run, or its checkpoint/ folder). */
export async function readSst2Checkpoint(dir: string): Promise<{ outDir: string; state: Sst2TrainState; tensors: tf.NamedTensorMap; checker: StateChecker }> {
  const { outDir, dir: ckpt, state } = await readCheckpoint(dir, 'dnnkit sst2');
  const stateFile = path.join(ckpt, STATE_JSON);
  if (state.command !== undefined && state.command !== 'sst2') {
    throw new InputError(`--resume ${dir}: the checkpoint there was written by dnnkit ${String(state.command)}, not sst2; resume it with dnnkit ${String(state.command)} --resume ${dir}`);
  }
  if (state.version !== 1 || !Array.isArray(state.tensors)) throw new InputError(`--resume ${dir}: ${stateFile} is not a dnnkit sst2 checkpoint`);
  const specs = state.tensors as tf.io.WeightsManifestEntry[];
  const buf = await fsp.readFile(path.join(ckpt, TENSORS_BIN)).catch(() => undefined);
  const expected = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (!buf || buf.byteLength !== expected) {
    throw new InputError(`--resume ${dir}: ${path.join(ckpt, TENSORS_BIN)} is missing or holds ${buf?.byteLength ?? 0} bytes instead of ${expected}; the checkpoint is damaged, start the run again with --restart`);
  }
  if (state.tableAdamPowers === undefined) {
    throw new InputError(`--resume ${dir}: the checkpoint was written by an older dnnkit, whose optimizer state this version cannot continue; start the run again with --restart`);
  }
  const checker = checkState(stateFile, state);
  const tensors = tf.io.decodeWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer, specs);
  return { outDir, state: state as unknown as Sst2TrainState, tensors, checker };
}
