/**
 * `train-mnist --workers N`: synchronous data parallelism over worker threads. Each training
 * step splits the batch of n images into N consecutive shards (shardStart: shard 0 a little
 * larger, MAIN_SHARE); the main thread computes shard 0's gradient with its own model and worker
 * thread k shard k's with a replica (replica_worker.ts) holding the same weights. The shares
 * are summed in shard order, ((g0 + g1) + g2) ..., which makes a run deterministic for a given N,
 * and the main thread applies one Adam step to its model; the updated weights go to the replicas
 * with the next step's rows. Only the main model has an optimizer, so checkpoints are unchanged
 * apart from the replicas' dropout streams (MnistTrainState.replicaRandomStates).
 *
 * Dropout masks differ from a 1-worker run (each replica draws from its own stream:
 * replicaRandomSeed), and so does the float summation order of the gradient: a run with N
 * workers is reproducible, but not bitwise equal to a run with another N.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../core/backend.js';
import { monotonicMs, ReplicaThread } from '../core/data_parallel.js';
import { createRng, deriveSeed } from '../core/rng.js';
import { batchArrays, makeBatch, type MnistSplit } from './data.js';
import type { MnistCnnConfig } from './model.js';
import { shardGradients, trainableVariables, unflatten, weightsFlat, type ShardResult } from './replica.js';

/** What a replica thread starts with (its workerData). */
export interface ReplicaInit {
  backend: BackendName;
  /** Threads of the replica's backend (the main thread's --threads). */
  threads: number;
  /** The network (buildMnistCnn's config): the same as the main thread's. */
  model: Partial<MnistCnnConfig>;
  /** Its Math.random generator state (dropout masks). */
  randomState: number;
}

export type ReplicaRequest =
  | { kind: 'ready' }
  | { kind: 'randomState' }
  /** The replica's live tensors (tf.memory().numTensors): a leak check. */
  | { kind: 'tensors' }
  /** One step: the current weights (weightsFlat layout), the shard's images xs [rows, H, W, 1] and one-hot ys [rows, 10], and the whole batch's size. */
  | { kind: 'step'; weights: Float32Array; xs: Float32Array; ys: Float32Array; rows: number; total: number };

export type ReplicaReply =
  | { kind: 'ready'; backend: string }
  | { kind: 'randomState'; state: number }
  | { kind: 'tensors'; count: number }
  /**
   * The shard's gradient (weightsFlat layout), summed loss and correct predictions; the replica's
   * live tensors after the step (a leak check); when it received the request and when its reply
   * was ready (monotonicMs: where a step's time goes, StepTimes).
   */
  | { kind: 'step'; grads: Float32Array; lossSum: number; correct: number; tensors: number; received: number; done: number };

/** The Math.random stream of replica k >= 1 (replica 0, the main thread, uses the run's globalRng). */
export function replicaRandomSeed(seed: number, k: number): number {
  return deriveSeed(seed, 'train-mnist', 'replica', k);
}

/** Initial generator states of replicas 1 .. workers - 1 (what a fresh checkpoint state holds). */
export function freshReplicaRandomStates(seed: number, workers: number): number[] {
  return Array.from({ length: workers - 1 }, (_, i) => createRng(replicaRandomSeed(seed, i + 1)).getState());
}

/** The worker threads of a run (replicas 1 .. N - 1). */
export interface ReplicaPool {
  /** Replicas in all, the main thread included. */
  readonly workers: number;
  /** Shard 0's size in replica shares (shardStart). */
  readonly mainShare: number;
  readonly threads: ReplicaThread<ReplicaRequest, ReplicaReply>[];
}

/** Starts N - 1 replica threads and waits until each has its backend; `randomStates[k - 1]` is replica k's. */
export async function startReplicas(workers: number, init: Omit<ReplicaInit, 'randomState'>, randomStates: readonly number[], mainShare = MAIN_SHARE): Promise<ReplicaPool> {
  if (randomStates.length !== workers - 1) throw new Error(`startReplicas: ${randomStates.length} random states for ${workers - 1} replica threads`);
  const script = new URL('./replica_worker.js', import.meta.url);
  const threads = randomStates.map((randomState) => new ReplicaThread<ReplicaRequest, ReplicaReply>(script, { ...init, randomState } satisfies ReplicaInit));
  try {
    await Promise.all(threads.map((t) => t.call({ kind: 'ready' })));
  } catch (err) {
    await closeReplicas({ workers, mainShare, threads });
    throw err;
  }
  return { workers, mainShare, threads };
}

/** The replicas' Math.random states now (for a checkpoint). */
export async function replicaRandomStates(pool: ReplicaPool): Promise<number[]> {
  const replies = await Promise.all(pool.threads.map((t) => t.call({ kind: 'randomState' })));
  return replies.map((r) => (r.kind === 'randomState' ? r.state : NaN));
}

export async function closeReplicas(pool: ReplicaPool): Promise<void> {
  await Promise.all(pool.threads.map((t) => t.close()));
}

/**
 * Shard 0 (the main thread's) is as large as this many replica shards. A replica's share costs
 * more than the same rows on the main thread: it waits for its request, writes the weights into
 * its model and sends its gradient back. Measured with scripts/bench_threads.ts (see
 * docs/CORES.md): with equal shards the main thread waited 6 ms of a 33 ms step for the replica.
 */
export const MAIN_SHARE = 1.25;

/**
 * First row of shard k of a batch of n rows split N ways, shard 0 counting as `mainShare` shards:
 * ceil(n (k - 1 + mainShare) / (N - 1 + mainShare)) for k >= 1 (with mainShare 1, ceil(k n / N)).
 */
export function shardStart(k: number, n: number, workers: number, mainShare = MAIN_SHARE): number {
  return k === 0 ? 0 : Math.ceil((n * (k - 1 + mainShare)) / (workers - 1 + mainShare));
}

/** Where a step's time went (milliseconds, added to): scripts/bench_threads.ts reports them. */
export interface StepTimes {
  /** Shard 0's gradient on this thread (with making its batch and sending the replicas theirs). */
  own: number;
  /** Waiting for the replica threads after that. */
  wait: number;
  /** Summing the gradients and the Adam step. */
  apply: number;
  /** The slowest replica's own work: from receiving its request to its reply being ready. */
  replica: number;
  /** The requests' way to the replicas (sent to received; the slowest replica). */
  toReplica: number;
  /**
   * How long after both were ready (the main thread's shard and the reply) the main thread picked
   * the reply up (the slowest replica): time its event loop spent elsewhere, e.g. garbage collection.
   */
  late: number;
}

/** StepTimes at zero, to add a run's steps to. */
export function emptyStepTimes(): StepTimes {
  return { own: 0, wait: 0, apply: 0, replica: 0, toReplica: 0, late: 0 };
}

/**
 * One data-parallel training step on the batch `idx` (with augmentation `shifts`): gradients of
 * the batch's mean cross-entropy from every replica, summed in shard order, one step of the
 * model's own optimizer. Returns the batch's mean loss and accuracy (as trainOnBatch does).
 */
export async function parallelTrainStep(pool: ReplicaPool, model: tf.LayersModel, split: MnistSplit, idx: readonly number[],
  shifts: Int8Array | undefined, times?: StepTimes): Promise<{ loss: number; acc: number }> {
  const t0 = monotonicMs();
  const n = idx.length;
  const N = pool.workers;
  const weights = weightsFlat(model);
  const replies: Promise<ReplicaReply>[] = [];
  const asked: ReplicaThread<ReplicaRequest, ReplicaReply>[] = [];
  for (let k = 1; k < N; k++) {
    const a = shardStart(k, n, N, pool.mainShare);
    const b = shardStart(k + 1, n, N, pool.mainShare);
    if (b <= a) continue;
    const { xs, ys } = batchArrays(split, idx.slice(a, b), shifts?.subarray(2 * a, 2 * b));
    const w = k === N - 1 ? weights : weights.slice();
    asked.push(pool.threads[k - 1]);
    replies.push(pool.threads[k - 1].call({ kind: 'step', weights: w, xs, ys, rows: b - a, total: n },
      [xs.buffer as ArrayBuffer, ys.buffer as ArrayBuffer, w.buffer as ArrayBuffer]));
  }
  // Shard 0 here, while the replica threads compute theirs.
  const end0 = shardStart(1, n, N, pool.mainShare);
  const { x, y } = makeBatch(split, idx.slice(0, end0), shifts?.subarray(0, 2 * end0));
  let mine: ShardResult;
  try {
    mine = shardGradients(model, x, y, n);
  } catch (err) {
    await Promise.allSettled(replies); // the replicas are idle again before the error goes up
    throw err;
  } finally {
    x.dispose();
    y.dispose();
  }
  const t1 = monotonicMs();
  const others = await Promise.allSettled(replies);
  const t2 = monotonicMs();
  const failed = others.find((o) => o.status === 'rejected');
  if (failed) {
    tf.dispose(mine.grads);
    throw (failed as PromiseRejectedResult).reason;
  }
  const values = others.map((o) => (o as PromiseFulfilledResult<ReplicaReply>).value);
  const steps = values.filter((r) => r.kind === 'step');
  const vars = trainableVariables(model);
  // In model.trainableWeights order: Adam keys its moments by position, as with trainOnBatch.
  const summed: tf.NamedTensorMap = {};
  tf.tidy(() => {
    const parts = steps.map((r) => unflatten(r.grads, vars));
    vars.forEach((v, i) => {
      let g: tf.Tensor = mine.grads[v.name];
      for (const p of parts) g = tf.add(g, p[i]);
      summed[v.name] = tf.keep(g === mine.grads[v.name] ? g.clone() : g);
    });
  });
  tf.dispose(mine.grads);
  model.optimizer.applyGradients(summed);
  tf.dispose(summed);
  if (times) {
    times.own += t1 - t0;
    times.wait += t2 - t1;
    times.apply += monotonicMs() - t2;
    const slowest = (f: (r: ReplicaReply & { kind: 'step' }, t: ReplicaThread<ReplicaRequest, ReplicaReply>) => number) =>
      Math.max(0, ...values.map((r, i) => (r.kind === 'step' ? f(r, asked[i]) : 0)));
    times.replica += slowest((r) => r.done - r.received);
    times.toReplica += slowest((r, t) => r.received - t.lastSentAt);
    times.late += slowest((r, t) => t.lastReplyAt - Math.max(t1, r.done));
  }
  const lossSum = steps.reduce((s, r) => s + r.lossSum, mine.lossSum);
  const correct = steps.reduce((s, r) => s + r.correct, mine.correct);
  return { loss: lossSum / n, acc: correct / n };
}
