/**
 * The per-iteration t-SNE gradient terms, on one thread or split over a worker thread.
 *
 * Each iteration needs, for the embedding y [n, 2]:
 *   attr[i] = exaggeration * sum_j p_ij (1 + |y_i - y_j|^2)^-1 (y_i - y_j)   (sparse P, exact)
 *   negF[i] = sum_j (1 + |y_i - y_j|^2)^-2 (y_i - y_j)                       (Barnes-Hut)
 *   Z       = sum_{i != j} (1 + |y_i - y_j|^2)^-1                             (Barnes-Hut)
 * The work is always cut into the same two halves (rows [0, n/2) / [n/2, n) for attr, Morton
 * positions likewise for negF and Z, Z = Z_A + Z_B), so the result is bit-identical whether
 * one thread does both halves or a worker does the second; only wall time changes.
 *
 * The worker shares memory with the caller (SharedArrayBuffer) and is driven with Atomics:
 * the caller bumps a generation counter, both halves run at once, the caller waits for the
 * worker's `done` to reach that generation. tsne() stays synchronous.
 */
import { Worker } from 'node:worker_threads';
import { QuadTree, repulsion } from './tsne_bh.js';

/** Sparse symmetric joint probabilities in CSR form; rows sorted by column. */
export interface SparseP {
  rowPtr: Int32Array;
  cols: Int32Array;
  vals: Float64Array;
}

/** Attractive term for rows [r0, r1) into `out` (n * 2). */
export function attraction(rowPtr: Int32Array, cols: Int32Array, vals: Float64Array, y: Float64Array, exaggeration: number, out: Float64Array, r0: number, r1: number): void {
  for (let i = r0; i < r1; i++) {
    const xi = y[2 * i], yi = y[2 * i + 1];
    let fx = 0, fy = 0;
    for (let e = rowPtr[i], end = rowPtr[i + 1]; e < end; e++) {
      const j = cols[e];
      const dx = xi - y[2 * j];
      const dy = yi - y[2 * j + 1];
      const m = vals[e] / (1 + dx * dx + dy * dy);
      fx += m * dx;
      fy += m * dy;
    }
    out[2 * i] = fx * exaggeration;
    out[2 * i + 1] = fy * exaggeration;
  }
}

/** Computes the gradient terms; `y`, `attr` and `negF` are its own (possibly shared) buffers. */
export interface GradientEngine {
  /** The embedding the next `compute` reads: write positions here. */
  readonly y: Float64Array;
  readonly attr: Float64Array;
  readonly negF: Float64Array;
  /** Threads actually used (1 or 2). */
  readonly threads: number;
  /** Fills attr and negF for the current y; returns Z. */
  compute(exaggeration: number): number;
  /** Stops the worker (if any). */
  close(): void;
}

// control words (Int32Array over a SharedArrayBuffer)
const GEN = 0, DONE = 1, READY = 2, QUIT = 3;
// parameter slots (Float64Array)
const P_EXAG = 0, P_SIZE = 1, P_SUM_B = 2;
/** How long the caller waits for the worker before giving up (ms). */
const WORKER_TIMEOUT_MS = 120_000;

function sharedF64(n: number, shared: boolean): Float64Array {
  return new Float64Array(shared ? new SharedArrayBuffer(8 * n) : new ArrayBuffer(8 * n));
}

/** One engine for `n` points; uses a worker thread when threads >= 2 and it starts in time. */
export function createGradientEngine(P: SparseP, n: number, theta: number, threads: number): GradientEngine {
  const half = n >> 1;
  if (threads >= 2) {
    const engine = tryParallel(P, n, theta, half);
    if (engine) return engine;
  }
  const y = new Float64Array(2 * n);
  const attr = new Float64Array(2 * n);
  const negF = new Float64Array(2 * n);
  const tree = new QuadTree(n);
  const { rowPtr, cols, vals } = P;
  return {
    y,
    attr,
    negF,
    threads: 1,
    compute(exaggeration: number): number {
      tree.build(y, theta);
      const zA = repulsion(tree.nodes, tree.size, tree.sx, tree.sy, tree.ids, negF, 0, half);
      const zB = repulsion(tree.nodes, tree.size, tree.sx, tree.sy, tree.ids, negF, half, n);
      attraction(rowPtr, cols, vals, y, exaggeration, attr, 0, n);
      return zA + zB;
    },
    close() {},
  };
}

function shareInt32(a: Int32Array): Int32Array {
  const s = new Int32Array(new SharedArrayBuffer(4 * Math.max(1, a.length)));
  s.set(a);
  return s;
}

function tryParallel(P: SparseP, n: number, theta: number, half: number): GradientEngine | null {
  const y = sharedF64(2 * n, true);
  const attr = sharedF64(2 * n, true);
  const negF = sharedF64(2 * n, true);
  const treeBuf = new SharedArrayBuffer(QuadTree.bytesFor(n));
  const tree = new QuadTree(n, treeBuf);
  const rowPtr = shareInt32(P.rowPtr);
  const cols = shareInt32(P.cols);
  const vals = sharedF64(Math.max(1, P.vals.length), true);
  vals.set(P.vals);
  const ctrl = new Int32Array(new SharedArrayBuffer(16));
  const params = sharedF64(4, true);
  let worker: Worker;
  try {
    worker = new Worker(new URL('./tsne_worker.js', import.meta.url), {
      workerData: { n, half, ctrl: ctrl.buffer, params: params.buffer, tree: treeBuf, y: y.buffer, attr: attr.buffer, negF: negF.buffer, rowPtr: rowPtr.buffer, cols: cols.buffer, vals: vals.buffer },
    });
  } catch {
    return null;
  }
  worker.unref();
  // the worker thread runs on its own; block (the API is synchronous) until it reports ready
  if (Atomics.wait(ctrl, READY, 0, 10_000) === 'timed-out' && Atomics.load(ctrl, READY) === 0) {
    void worker.terminate();
    return null;
  }
  let gen = 0;
  let closed = false;
  return {
    y,
    attr,
    negF,
    threads: 2,
    compute(exaggeration: number): number {
      tree.build(y, theta);
      params[P_EXAG] = exaggeration;
      params[P_SIZE] = tree.size;
      gen++;
      Atomics.store(ctrl, GEN, gen);
      Atomics.notify(ctrl, GEN);
      const zA = repulsion(tree.nodes, tree.size, tree.sx, tree.sy, tree.ids, negF, 0, half);
      attraction(rowPtr, cols, vals, y, exaggeration, attr, 0, half);
      const t0 = Date.now();
      for (;;) {
        const done = Atomics.load(ctrl, DONE);
        if (done === gen) break;
        if (done < 0) throw new Error('t-SNE worker thread failed');
        if (Date.now() - t0 > WORKER_TIMEOUT_MS) throw new Error(`t-SNE worker thread did not answer within ${WORKER_TIMEOUT_MS / 1000} s`);
        Atomics.wait(ctrl, DONE, done, 1000);
      }
      return zA + params[P_SUM_B];
    },
    close() {
      if (closed) return;
      closed = true;
      Atomics.store(ctrl, QUIT, 1);
      Atomics.store(ctrl, GEN, ++gen);
      Atomics.notify(ctrl, GEN);
    },
  };
}

/** The worker's side (tsne_worker.ts calls this with its workerData). */
export function runWorker(data: {
  n: number;
  half: number;
  ctrl: SharedArrayBuffer;
  params: SharedArrayBuffer;
  tree: SharedArrayBuffer;
  y: SharedArrayBuffer;
  attr: SharedArrayBuffer;
  negF: SharedArrayBuffer;
  rowPtr: SharedArrayBuffer;
  cols: SharedArrayBuffer;
  vals: SharedArrayBuffer;
}): void {
  const { n, half } = data;
  const ctrl = new Int32Array(data.ctrl);
  const params = new Float64Array(data.params);
  const tree = QuadTree.views(n, data.tree);
  const y = new Float64Array(data.y);
  const attr = new Float64Array(data.attr);
  const negF = new Float64Array(data.negF);
  const rowPtr = new Int32Array(data.rowPtr);
  const cols = new Int32Array(data.cols);
  const vals = new Float64Array(data.vals);
  Atomics.store(ctrl, READY, 1);
  Atomics.notify(ctrl, READY);
  let seen = 0;
  try {
    for (;;) {
      Atomics.wait(ctrl, GEN, seen);
      const gen = Atomics.load(ctrl, GEN);
      if (gen === seen) continue;
      seen = gen;
      if (Atomics.load(ctrl, QUIT) === 1) return;
      const size = params[P_SIZE];
      params[P_SUM_B] = repulsion(tree.nodes, size, tree.sx, tree.sy, tree.ids, negF, half, n);
      attraction(rowPtr, cols, vals, y, params[P_EXAG], attr, half, n);
      Atomics.store(ctrl, DONE, gen);
      Atomics.notify(ctrl, DONE);
    }
  } catch (e) {
    Atomics.store(ctrl, DONE, -1);
    Atomics.notify(ctrl, DONE);
    throw e;
  }
}
