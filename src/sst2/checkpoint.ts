/**
 * Checkpoints of an interrupted `dnnkit sst2` run, in <out>/checkpoint/: `tensors.bin` (the
 * model's weights, Adam's moments and the weight average, float32 via tf.io.encodeWeights) and
 * `state.json` (written last: where the run stopped, random state, metrics so far). A run resumed
 * from it with `--resume` ends with exactly the weights and metrics of an uninterrupted run.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fsutil.js';

export const CHECKPOINT_DIR = 'checkpoint';
const STATE_JSON = 'state.json';
const TENSORS_BIN = 'tensors.bin';

/** Where an interrupted run stopped and what it had measured. */
export interface Sst2TrainState {
  version: 1;
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
  rows: unknown[];
  best: { epoch: number; devAcc: number; devLoss: number };
  /** With --early-stopping network: each network's best epoch so far (its weights are in the saved model). */
  networkBest?: { epoch: number; devAcc: number; devLoss: number }[];
  trainSeconds: number;
  trainSentences: number;
  /** Adam's beta powers (restored exactly, not recomputed as beta^t). */
  adamBetaPowers: [number, number];
  /** Updates folded into the weight average (0 when off). */
  averageUpdates: number;
  /** Names and shapes of the tensors in tensors.bin: model/<name>, adam/<k>, average/<k>. */
  tensors: tf.io.WeightsManifestEntry[];
}

/** Writes the checkpoint (tensors first, state.json last, each atomically). */
export async function writeSst2Checkpoint(outDir: string, state: Omit<Sst2TrainState, 'tensors'>, tensors: tf.NamedTensorMap): Promise<string> {
  const dir = path.join(outDir, CHECKPOINT_DIR);
  const { data, specs } = await tf.io.encodeWeights(tensors);
  const bytes = Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data;
  await writeFileAtomic(path.join(dir, TENSORS_BIN), new Uint8Array(bytes));
  await writeFileAtomic(path.join(dir, STATE_JSON), JSON.stringify({ ...state, tensors: specs }));
  return dir;
}

/** Reads the checkpoint in `dir` (the --out of the interrupted run, or its checkpoint/ folder). */
export async function readSst2Checkpoint(dir: string): Promise<{ outDir: string; state: Sst2TrainState; tensors: tf.NamedTensorMap }> {
  const abs = path.resolve(dir);
  const outDir = path.basename(abs) === CHECKPOINT_DIR ? path.dirname(abs) : abs;
  const ckpt = path.join(outDir, CHECKPOINT_DIR);
  let state: Sst2TrainState;
  try {
    state = JSON.parse(await fsp.readFile(path.join(ckpt, STATE_JSON), 'utf8')) as Sst2TrainState;
  } catch {
    throw new InputError(`--resume ${dir}: no readable ${path.join(CHECKPOINT_DIR, STATE_JSON)} there; give the --out folder of an interrupted dnnkit sst2 run`);
  }
  if (state.version !== 1 || !Array.isArray(state.tensors)) throw new InputError(`--resume ${dir}: ${path.join(ckpt, STATE_JSON)} is not a dnnkit sst2 checkpoint`);
  const buf = await fsp.readFile(path.join(ckpt, TENSORS_BIN)).catch(() => undefined);
  const expected = state.tensors.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (!buf || buf.byteLength !== expected) {
    throw new InputError(`--resume ${dir}: ${path.join(ckpt, TENSORS_BIN)} is missing or holds ${buf?.byteLength ?? 0} bytes instead of ${expected}; the checkpoint is damaged, start the run again`);
  }
  const tensors = tf.io.decodeWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer, state.tensors);
  return { outDir, state, tensors };
}
