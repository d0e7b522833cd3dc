/**
 * Exact k-nearest-neighbour search (Euclidean) for all points of a set: a k-d tree (Friedman,
 * Bentley & Finkel 1977) with incremental lower bounds (Arya & Mount 1993) over the points
 * rotated onto their principal axes, plus partial-distance early exit in the leaves.
 *
 * Why the rotation: distances are invariant under it, but afterwards the coordinates come in
 * order of decreasing variance, so the tree splits on the directions that separate the data and
 * a partial sum of squared differences exceeds the current k-th distance after a few coordinates
 * for most non-neighbours. Everything lives in flat typed arrays; there are no node objects.
 */

import { Worker } from 'node:worker_threads';
import { principalAxes, rotate, type FlatPoints, type PrincipalAxes } from './linalg.js';

/** Leaves hold at most this many points. */
const LEAF_SIZE = 16;
/** Inputs wider than this are searched unrotated (the D x D eigendecomposition and N x D^2 rotation get too costly). */
const MAX_ROTATE_DIM = 256;

/** Result of an all-points k-NN query: row i holds point i's neighbours, nearest first. */
export interface KnnResult {
  k: number;
  /** n * k neighbour indices (the point itself excluded). */
  indices: Int32Array;
  /** n * k Euclidean distances, ascending per row; ties broken by index. */
  distances: Float64Array;
}

/** Below this many points a helper thread costs more than it saves. */
const PARALLEL_MIN_POINTS = 2000;
/** Queries are handed out in this many chunks (both threads take the next free one). */
const CHUNKS = 64;
/** Give up on a silent helper thread after this long (ms). */
const WORKER_TIMEOUT_MS = 300_000;
// control words: next chunk to take, chunks finished, helper failed
const NEXT = 0, FINISHED = 1, FAILED = 2;

/**
 * The k nearest other points of every point, exact. `axes` (from `principalAxes`) may be passed
 * when already computed; without it they are computed when the dimension is > 2 and <= 256.
 * With threads >= 2 (and n >= 2000) a worker thread builds the same tree and takes chunks of the
 * queries; every query is independent, so the result does not depend on who answered it.
 */
export function knnAll(x: FlatPoints, k: number, axes?: PrincipalAxes, threads = 1): KnnResult {
  const { n, dim } = x;
  if (!Number.isInteger(k) || k < 1 || k > n - 1) throw new RangeError(`knnAll: k = ${k} needs 1 <= k <= n - 1 = ${n - 1}`);
  let coords = x.data;
  if (dim > 2 && dim <= MAX_ROTATE_DIM) coords = rotate(x, axes ?? principalAxes(x));
  if (threads < 2 || n < PARALLEL_MIN_POINTS) {
    const indices = new Int32Array(n * k);
    const distances = new Float64Array(n * k);
    searchRange(buildKdTree(coords, n, dim), k, 0, n, indices, distances);
    return { k, indices, distances };
  }
  const shared = new Float64Array(new SharedArrayBuffer(8 * coords.length));
  shared.set(coords);
  const indices = new Int32Array(new SharedArrayBuffer(4 * n * k));
  const distances = new Float64Array(new SharedArrayBuffer(8 * n * k));
  const ctrl = new Int32Array(new SharedArrayBuffer(16));
  let worker: Worker | null = null;
  try {
    worker = new Worker(new URL('./knn_worker.js', import.meta.url), {
      workerData: { coords: shared.buffer, n, dim, k, indices: indices.buffer, distances: distances.buffer, ctrl: ctrl.buffer },
    });
    worker.unref();
  } catch {
    worker = null; // no helper: this thread takes every chunk
  }
  runChunks(buildKdTree(shared, n, dim), k, indices, distances, ctrl);
  const t0 = Date.now();
  for (;;) {
    const finished = Atomics.load(ctrl, FINISHED);
    if (finished === CHUNKS) break;
    if (Atomics.load(ctrl, FAILED) === 1) throw new Error('k-NN worker thread failed');
    if (Date.now() - t0 > WORKER_TIMEOUT_MS) throw new Error(`k-NN worker thread did not finish within ${WORKER_TIMEOUT_MS / 1000} s`);
    Atomics.wait(ctrl, FINISHED, finished, 1000);
  }
  if (worker) void worker.terminate();
  return { k, indices: new Int32Array(indices), distances: new Float64Array(distances) };
}

/** Takes chunks of the queries until none is left (the worker's and the caller's loop). */
export function runChunks(tree: KdTree, k: number, indices: Int32Array, distances: Float64Array, ctrl: Int32Array): void {
  const n = tree.order.length;
  for (;;) {
    const c = Atomics.add(ctrl, NEXT, 1);
    if (c >= CHUNKS) return;
    searchRange(tree, k, Math.floor((c * n) / CHUNKS), Math.floor(((c + 1) * n) / CHUNKS), indices, distances);
    Atomics.add(ctrl, FINISHED, 1);
    Atomics.notify(ctrl, FINISHED);
  }
}

/** Marks the shared control block as failed (the worker calls this when it throws). */
export function markFailed(ctrl: Int32Array): void {
  Atomics.store(ctrl, FAILED, 1);
  Atomics.notify(ctrl, FINISHED);
}

/** A k-d tree over `coords` [n, dim]; node t covers tree positions [lo[t], hi[t]). */
export interface KdTree {
  dim: number;
  /** Point ids in tree order. */
  order: Int32Array;
  lo: Int32Array;
  hi: Int32Array;
  /** First child (the second is left + 1), -1 for a leaf. */
  left: Int32Array;
  splitDim: Int32Array;
  splitVal: Float64Array;
  /** Coordinates in tree order [n, dim]: leaf scans read contiguous memory. */
  pts: Float64Array;
}

/** Builds the tree: split the widest coordinate at its median until leaves hold <= LEAF_SIZE points. Deterministic. */
export function buildKdTree(coords: Float64Array, n: number, dim: number): KdTree {
  // --- build: order[] holds point ids; node t covers [lo[t], hi[t]); internal nodes split on splitDim at splitVal
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const maxNodes = 2 * Math.ceil(n / (LEAF_SIZE / 2)) + 2;
  const lo = new Int32Array(maxNodes);
  const hi = new Int32Array(maxNodes);
  const left = new Int32Array(maxNodes).fill(-1);
  const splitDim = new Int32Array(maxNodes);
  const splitVal = new Float64Array(maxNodes);
  const keys = new Float64Array(n);
  let nodes = 1;
  lo[0] = 0;
  hi[0] = n;
  const todo = [0];
  while (todo.length > 0) {
    const t = todo.pop()!;
    const a = lo[t], b = hi[t];
    if (b - a <= LEAF_SIZE) continue;
    // split the widest coordinate at its median
    let bestDim = 0;
    let bestSpread = -1;
    for (let d = 0; d < dim; d++) {
      let mn = Infinity, mx = -Infinity;
      for (let p = a; p < b; p++) {
        const v = coords[order[p] * dim + d];
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      if (mx - mn > bestSpread) {
        bestSpread = mx - mn;
        bestDim = d;
      }
    }
    if (bestSpread <= 0) continue; // all points coincide: keep as one (large) leaf
    for (let p = a; p < b; p++) keys[p] = coords[order[p] * dim + bestDim];
    const mid = (a + b) >> 1;
    quickselect(order, keys, a, b - 1, mid);
    const l = nodes++;
    const r = nodes++;
    left[t] = l;
    splitDim[t] = bestDim;
    splitVal[t] = keys[mid];
    lo[l] = a;
    hi[l] = mid;
    lo[r] = mid;
    hi[r] = b;
    todo.push(l, r);
  }
  const pts = new Float64Array(n * dim);
  for (let p = 0; p < n; p++) pts.set(coords.subarray(order[p] * dim, order[p] * dim + dim), p * dim);
  return { dim, order, lo, hi, left, splitDim, splitVal, pts };
}

/** One query's search state: a max-heap of the k best (squared distance, id) so far, ordered by distance then id. */
class QueryState {
  readonly heapD: Float64Array;
  readonly heapI: Int32Array;
  /** Per-dimension offset of the query from the current cell (the incremental lower bound). */
  readonly offs: Float64Array;
  /** The query point, [dim]. */
  readonly q: Float64Array;
  size = 0;
  /** Squared distance of the current k-th neighbour (Infinity until k are found). */
  tau = Infinity;
  /** The query's own id (never its own neighbour). */
  self = -1;

  constructor(readonly k: number, dim: number) {
    this.heapD = new Float64Array(k);
    this.heapI = new Int32Array(k);
    this.offs = new Float64Array(dim);
    this.q = new Float64Array(dim);
  }

  /** Keeps (d, id) if it is among the k best so far. */
  offer(d: number, id: number): void {
    const { heapD, heapI, k } = this;
    if (this.size < k) {
      let c = this.size++;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (heapD[p] > d || (heapD[p] === d && heapI[p] > id)) break;
        heapD[c] = heapD[p];
        heapI[c] = heapI[p];
        c = p;
      }
      heapD[c] = d;
      heapI[c] = id;
      if (this.size === k) this.tau = heapD[0];
      return;
    }
    if (d > heapD[0] || (d === heapD[0] && id > heapI[0])) return;
    siftDown(heapD, heapI, k, d, id);
    this.tau = heapD[0];
  }

  /** Empties the heap into row `row` of indices/distances, nearest first. */
  drain(row: number, indices: Int32Array, distances: Float64Array): void {
    const { heapD, heapI } = this;
    const off = row * this.k;
    for (let s = this.size - 1; s >= 0; s--) {
      distances[off + s] = Math.sqrt(heapD[0]);
      indices[off + s] = heapI[0];
      // pop: move the last element to the root and sift it down within [0, s)
      siftDown(heapD, heapI, s, heapD[s], heapI[s]);
    }
  }
}

/** Places (d, id) at the root of the max-heap [0, size) and sifts it down; ties ordered by id. */
function siftDown(heapD: Float64Array, heapI: Int32Array, size: number, d: number, id: number): void {
  let c = 0;
  for (;;) {
    const l = 2 * c + 1;
    if (l >= size) break;
    const r = l + 1;
    const m = r < size && (heapD[r] > heapD[l] || (heapD[r] === heapD[l] && heapI[r] > heapI[l])) ? r : l;
    if (heapD[m] < d || (heapD[m] === d && heapI[m] < id)) break;
    heapD[c] = heapD[m];
    heapI[c] = heapI[m];
    c = m;
  }
  heapD[c] = d;
  heapI[c] = id;
}

/** Offers the points at tree positions [a, b) of a leaf, with a partial-distance early exit. */
function scanLeaf(tree: KdTree, st: QueryState, a: number, b: number): void {
  const { dim, order, pts } = tree;
  const q = st.q;
  for (let p = a; p < b; p++) {
    const id = order[p];
    if (id === st.self) continue;
    const base = p * dim;
    // partial distance: stop once the sum cannot beat the k-th neighbour (ties kept for index order)
    let s = 0;
    let d = 0;
    for (; d + 8 <= dim; d += 8) {
      // four independent accumulators: no single dependency chain through s
      const t0 = q[d] - pts[base + d], t1 = q[d + 1] - pts[base + d + 1];
      const t2 = q[d + 2] - pts[base + d + 2], t3 = q[d + 3] - pts[base + d + 3];
      const t4 = q[d + 4] - pts[base + d + 4], t5 = q[d + 5] - pts[base + d + 5];
      const t6 = q[d + 6] - pts[base + d + 6], t7 = q[d + 7] - pts[base + d + 7];
      s += (t0 * t0 + t4 * t4) + (t1 * t1 + t5 * t5) + ((t2 * t2 + t6 * t6) + (t3 * t3 + t7 * t7));
      if (s > st.tau) break;
    }
    if (s > st.tau) continue;
    for (; d < dim; d++) {
      const t = q[d] - pts[base + d];
      s += t * t;
    }
    if (s <= st.tau) st.offer(s, id);
  }
}

/** Visits node t (lower bound rd on the squared distance to its cell), nearer child first. */
function visit(tree: KdTree, st: QueryState, t: number, rd: number): void {
  const l = tree.left[t];
  if (l < 0) {
    scanLeaf(tree, st, tree.lo[t], tree.hi[t]);
    return;
  }
  const sd = tree.splitDim[t];
  const diff = st.q[sd] - tree.splitVal[t];
  visit(tree, st, diff < 0 ? l : l + 1, rd);
  // lower bound for the far cell: replace this dimension's old offset by the distance to the split
  const old = st.offs[sd];
  const nrd = rd - old * old + diff * diff;
  if (nrd <= st.tau) {
    st.offs[sd] = diff;
    visit(tree, st, diff < 0 ? l + 1 : l, nrd);
    st.offs[sd] = old;
  }
}

/** Answers the queries at tree positions [p0, p1), writing rows order[p] of indices/distances. */
export function searchRange(tree: KdTree, k: number, p0: number, p1: number, indices: Int32Array, distances: Float64Array): void {
  const { dim, order, pts } = tree;
  const st = new QueryState(k, dim);
  for (let p = p0; p < p1; p++) {
    const i = order[p]; // queries in tree order: neighbouring queries touch the same leaves
    for (let d = 0; d < dim; d++) st.q[d] = pts[p * dim + d];
    st.size = 0;
    st.tau = Infinity;
    st.self = i;
    st.offs.fill(0);
    visit(tree, st, 0, 0);
    st.drain(i, indices, distances);
  }
}

/** Partially sorts positions [left, right] of (vals, keys) by key so that position k holds its order statistic. */
function quickselect(vals: Int32Array, keys: Float64Array, left: number, right: number, k: number): void {
  while (right > left) {
    const midp = (left + right) >> 1;
    const a = keys[left], b = keys[midp], c = keys[right];
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = left;
    let j = right;
    while (i <= j) {
      while (keys[i] < pivot) i++;
      while (keys[j] > pivot) j--;
      if (i <= j) {
        const tk = keys[i];
        keys[i] = keys[j];
        keys[j] = tk;
        const tv = vals[i];
        vals[i] = vals[j];
        vals[j] = tv;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return;
  }
}
