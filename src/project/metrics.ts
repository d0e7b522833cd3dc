/**
 * Neighbourhood-preservation metrics for projections, Euclidean throughout.
 * - trustworthiness: Venna & Kaski 2001, "Neighborhood preservation in nonlinear projection
 *   methods: an experimental study"; the same definition and normalisation as
 *   sklearn.manifold.trustworthiness:
 *     T(k) = 1 - 2 / (n k (2n - 3k - 1)) * sum_i sum_{j in N_k^low(i)} max(0, r(i, j) - k),
 *   r(i, j) the rank of j among i's neighbours in the input space (1 = nearest).
 * - knnAccuracy: leave-one-out k-NN classification accuracy.
 */
import { UsageError } from '../core/errors.js';
import { knnAll } from './knn.js';
import { flattenPoints, principalAxes, rotate, type FlatPoints } from './linalg.js';

/** Trustworthiness (Venna & Kaski 2001) as sklearn.manifold.trustworthiness, Euclidean; in [0, 1]. */
export function trustworthiness(high: ArrayLike<number>[], low: ArrayLike<number>[], k: number): number {
  return trustworthinessMany(high, [low], k)[0];
}

/**
 * Trustworthiness of several embeddings of the same input at once: the O(n^2 d) pass over the
 * input-space distances, the expensive part, is shared.
 *
 * Memory is O(n k): for each point i only the input-space distances to its k output-space
 * neighbours are kept (as sorted thresholds), and every pair (i, m) is visited once to count, per
 * threshold, how many points are closer to i. A pair whose partial distance already exceeds both
 * points' largest threshold is abandoned early.
 */
export function trustworthinessMany(high: ArrayLike<number>[], lows: ArrayLike<number>[][], k: number): number[] {
  const raw = toFlat(high, 'trustworthiness: high-dimensional points');
  // distances are unchanged on the principal axes, but partial sums then grow fastest, so the
  // early exit below triggers after fewer features
  const x = raw.dim > 2 && raw.dim <= 256 ? { ...raw, data: rotate(raw, principalAxes(raw)) } : raw;
  const n = x.n;
  if (!Number.isInteger(k) || k < 1) throw new UsageError(`trustworthiness: k must be a positive integer, got ${k}`);
  if (k >= n / 2) throw new UsageError(`trustworthiness: k = ${k} must be less than n / 2 = ${n / 2}; use a smaller k or more points`);
  const E = lows.length;
  // thresholds[e][i * k + a]: squared input distance from i to its a-th output neighbour, sorted
  const thresholds: Float64Array[] = [];
  const maxT = new Float64Array(n);
  for (let e = 0; e < E; e++) {
    const y = toFlat(lows[e], 'trustworthiness: embedding');
    if (y.n !== n) throw new UsageError(`trustworthiness: the embedding has ${y.n} points but the input has ${n}; pass one row per input point`);
    const nb = knnAll(y, k).indices;
    const T = new Float64Array(n * k);
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < k; a++) T[i * k + a] = sqDist(x.data, i, nb[i * k + a], x.dim);
      const row = T.subarray(i * k, (i + 1) * k).sort();
      if (row[k - 1] > maxT[i]) maxT[i] = row[k - 1];
    }
    thresholds.push(T);
  }
  // hist[e][i * (k + 1) + b]: points m != i whose distance is >= exactly b of i's thresholds
  const hist = Array.from({ length: E }, () => new Int32Array(n * (k + 1)));
  const { data, dim } = x;
  const tally = (e: number, i: number, d: number): void => {
    const T = thresholds[e];
    const off = i * k;
    if (d >= T[off + k - 1]) return;
    let b = 0;
    while (b < k && T[off + b] <= d) b++;
    hist[e][i * (k + 1) + b]++;
  };
  const B = 128; // tile size: two tiles of 128 rows stay in cache for d up to a few hundred
  for (let i0 = 0; i0 < n; i0 += B) {
    const i1 = Math.min(n, i0 + B);
    for (let m0 = i0; m0 < n; m0 += B) {
      const m1 = Math.min(n, m0 + B);
      for (let i = i0; i < i1; i++) {
        const ti = maxT[i];
        for (let m = m0 === i0 ? i + 1 : m0; m < m1; m++) {
          const limit = ti > maxT[m] ? ti : maxT[m];
          const s = sqDist(data, i, m, dim, limit);
          if (s >= limit) continue;
          for (let e = 0; e < E; e++) {
            tally(e, i, s);
            tally(e, m, s);
          }
        }
      }
    }
  }
  const norm = 2 / (n * k * (2 * n - 3 * k - 1));
  return thresholds.map((_, e) => {
    let penalty = 0;
    const h = hist[e];
    for (let i = 0; i < n; i++) {
      let closer = 0;
      for (let a = 0; a < k; a++) {
        closer += h[i * (k + 1) + a];
        const rank = closer + 1; // 1 + points strictly closer than the a-th output neighbour
        if (rank > k) penalty += rank - k;
      }
    }
    return 1 - penalty * norm;
  });
}

/**
 * Leave-one-out k-NN classification accuracy: each point is classified by a majority vote of its
 * k nearest other points; a tie between classes goes to the tied class of the nearest voter.
 */
export function knnAccuracy(points: ArrayLike<number>[], labels: (string | number)[], k: number): number {
  const x = toFlat(points, 'knnAccuracy: points');
  const n = x.n;
  if (labels.length !== n) throw new UsageError(`knnAccuracy: ${labels.length} labels for ${n} points; pass one label per point`);
  if (!Number.isInteger(k) || k < 1) throw new UsageError(`knnAccuracy: k must be a positive integer, got ${k}`);
  if (k > n - 1) throw new UsageError(`knnAccuracy: k = ${k} needs at least ${k + 1} points, got ${n}`);
  const nb = knnAll(x, k).indices;
  const votes = new Map<string | number, number>();
  let correct = 0;
  for (let i = 0; i < n; i++) {
    votes.clear();
    let best = 0;
    for (let a = 0; a < k; a++) {
      const c = labels[nb[i * k + a]];
      const v = (votes.get(c) ?? 0) + 1;
      votes.set(c, v);
      if (v > best) best = v;
    }
    // neighbours are sorted nearest first: the first voter of a top class wins ties
    let predicted = labels[nb[i * k]];
    for (let a = 0; a < k; a++) {
      const c = labels[nb[i * k + a]];
      if (votes.get(c) === best) {
        predicted = c;
        break;
      }
    }
    if (predicted === labels[i]) correct++;
  }
  return correct / n;
}

/**
 * Squared distance between rows a and b, summed in chunks of 8 features (four independent
 * accumulators per chunk); returns early, with a partial sum >= limit, once the sum reaches
 * `limit`. The summation order is fixed, so sqDist(a, b) === sqDist(b, a) bit for bit.
 */
function sqDist(data: Float64Array, a: number, b: number, dim: number, limit = Infinity): number {
  const oa = a * dim;
  const ob = b * dim;
  let s = 0;
  let d = 0;
  for (; d + 8 <= dim; d += 8) {
    const t0 = data[oa + d] - data[ob + d], t1 = data[oa + d + 1] - data[ob + d + 1];
    const t2 = data[oa + d + 2] - data[ob + d + 2], t3 = data[oa + d + 3] - data[ob + d + 3];
    const t4 = data[oa + d + 4] - data[ob + d + 4], t5 = data[oa + d + 5] - data[ob + d + 5];
    const t6 = data[oa + d + 6] - data[ob + d + 6], t7 = data[oa + d + 7] - data[ob + d + 7];
    s += (t0 * t0 + t4 * t4) + (t1 * t1 + t5 * t5) + ((t2 * t2 + t6 * t6) + (t3 * t3 + t7 * t7));
    if (s >= limit) return s;
  }
  for (; d < dim; d++) {
    const t = data[oa + d] - data[ob + d];
    s += t * t;
  }
  return s;
}

function toFlat(points: ArrayLike<number>[], what: string): FlatPoints {
  if (!Array.isArray(points) || points.length === 0) throw new UsageError(`${what}: no points given`);
  let x: FlatPoints;
  try {
    x = flattenPoints(points, what);
  } catch (e) {
    throw new UsageError(`${(e as Error).message}; every row needs the same number of values`);
  }
  for (let i = 0; i < x.data.length; i++) {
    if (!Number.isFinite(x.data[i])) throw new UsageError(`${what}: row ${Math.floor(i / x.dim)} has a non-finite value ${x.data[i]}`);
  }
  return x;
}
