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

/** Leaves hold at most this many points. */
const LEAF_SIZE = 16;
/** Inputs wider than this are searched unrotated (the D x D eigendecomposition and N x D^2 rotation get too costly). */
const MAX_ROTATE_DIM = 256;

/** Points as one flat row-major array: n rows of `dim` numbers. */
export interface FlatPoints {
  data: Float64Array;
  n: number;
  dim: number;
}

/** Copies rows of numbers into a flat Float64Array (n * dim), checking every row has `dim` values. */
export function flattenPoints(points: ArrayLike<number>[], what = 'points'): FlatPoints {
  const n = points.length;
  const dim = n > 0 ? points[0].length : 0;
  const data = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    const row = points[i];
    if (row.length !== dim) throw new RangeError(`${what}: row ${i} has ${row.length} values, row 0 has ${dim}`);
    for (let d = 0; d < dim; d++) data[i * dim + d] = row[d];
  }
  return { data, n, dim };
}

/** Result of an all-points k-NN query: row i holds point i's neighbours, nearest first. */
export interface KnnResult {
  k: number;
  /** n * k neighbour indices (the point itself excluded). */
  indices: Int32Array;
  /** n * k Euclidean distances, ascending per row; ties broken by index. */
  distances: Float64Array;
}

/** Principal axes of a point set: `mean`, and `axes` (dim x dim, row c = c-th axis, by decreasing variance). */
export interface PrincipalAxes {
  mean: Float64Array;
  axes: Float64Array;
  variances: Float64Array;
}

/** Eigendecomposition of the covariance by cyclic Jacobi rotations (Golub & Van Loan, 8.5). */
export function principalAxes(x: FlatPoints): PrincipalAxes {
  const { data, n, dim } = x;
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += data[i * dim + d];
  for (let d = 0; d < dim; d++) mean[d] /= n;
  // covariance [dim, dim], upper triangle accumulated then mirrored
  const A = new Float64Array(dim * dim);
  const row = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) row[d] = data[i * dim + d] - mean[d];
    for (let a = 0; a < dim; a++) {
      const ra = row[a];
      if (ra === 0) continue;
      const base = a * dim;
      for (let b = a; b < dim; b++) A[base + b] += ra * row[b];
    }
  }
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) A[a * dim + b] /= n;
    for (let b = 0; b < a; b++) A[a * dim + b] = A[b * dim + a];
  }
  // V accumulates the rotations: A = V diag(w) V^T, columns of V are eigenvectors
  const V = new Float64Array(dim * dim);
  for (let d = 0; d < dim; d++) V[d * dim + d] = 1;
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    let diag = 0;
    for (let p = 0; p < dim; p++) {
      diag += A[p * dim + p] * A[p * dim + p];
      for (let q = p + 1; q < dim; q++) off += A[p * dim + q] * A[p * dim + q];
    }
    if (off <= 1e-30 * diag || off === 0) break;
    for (let p = 0; p < dim - 1; p++) {
      for (let q = p + 1; q < dim; q++) {
        const apq = A[p * dim + q];
        if (Math.abs(apq) < 1e-300) continue;
        const app = A[p * dim + p];
        const aqq = A[q * dim + q];
        const tau = (aqq - app) / (2 * apq);
        const t = Math.sign(tau || 1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        for (let r = 0; r < dim; r++) {
          const arp = A[r * dim + p];
          const arq = A[r * dim + q];
          A[r * dim + p] = c * arp - s * arq;
          A[r * dim + q] = s * arp + c * arq;
        }
        for (let r = 0; r < dim; r++) {
          const apr = A[p * dim + r];
          const aqr = A[q * dim + r];
          A[p * dim + r] = c * apr - s * aqr;
          A[q * dim + r] = s * apr + c * aqr;
        }
        for (let r = 0; r < dim; r++) {
          const vrp = V[r * dim + p];
          const vrq = V[r * dim + q];
          V[r * dim + p] = c * vrp - s * vrq;
          V[r * dim + q] = s * vrp + c * vrq;
        }
      }
    }
  }
  const order = Array.from({ length: dim }, (_, d) => d).sort((a, b) => A[b * dim + b] - A[a * dim + a] || a - b);
  const axes = new Float64Array(dim * dim);
  const variances = new Float64Array(dim);
  order.forEach((col, c) => {
    variances[c] = Math.max(0, A[col * dim + col]);
    // sign convention: the largest-magnitude loading is positive
    let best = 0;
    for (let d = 1; d < dim; d++) if (Math.abs(V[d * dim + col]) > Math.abs(V[best * dim + col])) best = d;
    const sign = V[best * dim + col] < 0 ? -1 : 1;
    for (let d = 0; d < dim; d++) axes[c * dim + d] = sign * V[d * dim + col];
  });
  return { mean, axes, variances };
}

/** Coordinates of the centred points on the axes: [n, dim]. */
export function rotate(x: FlatPoints, pa: PrincipalAxes): Float64Array {
  const { data, n, dim } = x;
  const out = new Float64Array(n * dim);
  const row = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) row[d] = data[i * dim + d] - pa.mean[d];
    for (let c = 0; c < dim; c++) {
      let s = 0;
      const base = c * dim;
      for (let d = 0; d < dim; d++) s += row[d] * pa.axes[base + d];
      out[i * dim + c] = s;
    }
  }
  return out;
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

/** Answers the queries at tree positions [p0, p1), writing rows order[p] of indices/distances. */
export function searchRange(tree: KdTree, k: number, p0: number, p1: number, indices: Int32Array, distances: Float64Array): void {
  const { dim, order, lo, hi, left, splitDim, splitVal, pts } = tree;

  // --- search
  const heapD = new Float64Array(k); // max-heap of squared distances
  const heapI = new Int32Array(k);
  const offs = new Float64Array(dim); // per-dimension offset of the query from the current cell
  const q = new Float64Array(dim);
  let size = 0;
  let tau = Infinity; // squared distance of the current k-th neighbour (Infinity until k found)

  const offer = (d: number, id: number): void => {
    if (size < k) {
      let c = size++;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (heapD[p] > d || (heapD[p] === d && heapI[p] > id)) break;
        heapD[c] = heapD[p];
        heapI[c] = heapI[p];
        c = p;
      }
      heapD[c] = d;
      heapI[c] = id;
      if (size === k) tau = heapD[0];
      return;
    }
    if (d > heapD[0] || (d === heapD[0] && id > heapI[0])) return;
    let c = 0;
    for (;;) {
      const l = 2 * c + 1;
      if (l >= k) break;
      const r = l + 1;
      const m = r < k && (heapD[r] > heapD[l] || (heapD[r] === heapD[l] && heapI[r] > heapI[l])) ? r : l;
      if (heapD[m] < d || (heapD[m] === d && heapI[m] < id)) break;
      heapD[c] = heapD[m];
      heapI[c] = heapI[m];
      c = m;
    }
    heapD[c] = d;
    heapI[c] = id;
    tau = heapD[0];
  };

  let self = -1;
  const scanLeaf = (a: number, b: number): void => {
    for (let p = a; p < b; p++) {
      const id = order[p];
      if (id === self) continue;
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
        if (s > tau) break;
      }
      if (s > tau) continue;
      for (; d < dim; d++) {
        const t = q[d] - pts[base + d];
        s += t * t;
      }
      if (s <= tau) offer(s, id);
    }
  };

  const visit = (t: number, rd: number): void => {
    const l = left[t];
    if (l < 0) {
      scanLeaf(lo[t], hi[t]);
      return;
    }
    const sd = splitDim[t];
    const diff = q[sd] - splitVal[t];
    const near = diff < 0 ? l : l + 1;
    const far = diff < 0 ? l + 1 : l;
    visit(near, rd);
    // lower bound for the far cell: replace this dimension's old offset by the distance to the split
    const old = offs[sd];
    const nrd = rd - old * old + diff * diff;
    if (nrd <= tau) {
      offs[sd] = diff;
      visit(far, nrd);
      offs[sd] = old;
    }
  };

  for (let p = p0; p < p1; p++) {
    const i = order[p]; // queries in tree order: neighbouring queries touch the same leaves
    for (let d = 0; d < dim; d++) q[d] = pts[p * dim + d];
    size = 0;
    tau = Infinity;
    self = i;
    offs.fill(0);
    visit(0, 0);
    const off = i * k;
    for (let s = size - 1; s >= 0; s--) {
      distances[off + s] = Math.sqrt(heapD[0]);
      indices[off + s] = heapI[0];
      // pop: move the last element to the root and sift it down within [0, s)
      const lastD = heapD[s];
      const lastI = heapI[s];
      let c = 0;
      for (;;) {
        const l = 2 * c + 1;
        if (l >= s) break;
        const r = l + 1;
        const m = r < s && (heapD[r] > heapD[l] || (heapD[r] === heapD[l] && heapI[r] > heapI[l])) ? r : l;
        if (heapD[m] < lastD || (heapD[m] === lastD && heapI[m] < lastI)) break;
        heapD[c] = heapD[m];
        heapI[c] = heapI[m];
        c = m;
      }
      heapD[c] = lastD;
      heapI[c] = lastI;
    }
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
