/**
 * Barnes-Hut t-SNE (van der Maaten 2014, "Accelerating t-SNE using tree-based algorithms", JMLR 15),
 * following scikit-learn's TSNE(method='barnes_hut') step for step:
 *  0. wide input (more columns than rows, and more than 50): reduced to its first min(50, N - 1)
 *     principal components through the N x N Gram matrix (pca.ts gramPca; tsneReducedDims);
 *  1. exact k = min(n - 1, floor(3 * perplexity + 1)) nearest neighbours (k-d tree on the
 *     principal axes, knn.ts);
 *  2. conditional p_{j|i} by binary search on the Gaussian precision to match the perplexity
 *     (sklearn's _binary_search_perplexity: 100 steps, tolerance 1e-5 in nats);
 *  3. P = (P + P^T) / sum, sparse (CSR);
 *  4. init: PCA scaled so PC1 has std 1e-4, or N(0, 1e-4^2);
 *  5. gradient descent with momentum 0.5 and early exaggeration 12 for 250 iterations, then
 *     momentum 0.8; per-parameter gains (+0.2 / x0.8, floor 0.01); learning rate 'auto' =
 *     max(N / 12 / 4, 50); gradient 4 * (sum_j p_ij q_ij Z (y_i - y_j) - sum_j q_ij^2 Z (y_i - y_j)),
 *     the repulsive half by Barnes-Hut (tsne_bh.ts).
 * Deterministic for a given seed. Keep callers on `tsne()` only: the internals may be replaced by a
 * faster method without touching them.
 */
import { availableParallelism } from 'node:os';
import { UsageError } from '../core/errors.js';
import { createRng } from '../core/rng.js';
import { createGradientEngine, type SparseP } from './tsne_gradient.js';
import { knnAll } from './knn.js';
import { centre, columnMeans, flattenPoints, principalAxes, scatterMatrix, symmetricEigen, type FlatPoints, type PrincipalAxes } from './linalg.js';
import { gramPca } from './pca.js';

export interface TsneOptions {
  /** Effective number of neighbours (sklearn default 30); needs n > 3 * perplexity. */
  perplexity: number;
  /** Gradient step size; 'auto' = max(N / earlyExaggeration / 4, 50) as in scikit-learn. */
  learningRate: number | 'auto';
  /** Total optimisation iterations, the first min(250, iterations) with early exaggeration. */
  iterations: number;
  /** Seed of the 'random' init (the PCA init and everything else are deterministic anyway). */
  seed: number;
  /** 'pca': first two principal components scaled to std 1e-4 (sklearn); 'random': N(0, 1e-4^2). */
  init: 'pca' | 'random';
  /** Barnes-Hut opening angle (0.5 as sklearn); smaller is more exact and slower. */
  theta?: number;
  /** Called every 10 iterations and at the end with the iterations done so far. */
  onProgress?: (iteration: number, total: number) => void;
  /**
   * Threads for the gradient (1 or 2; default 2 when the machine has 2+ cores and n >= 2000).
   * The result does not depend on it.
   */
  threads?: number;
}

export type { SparseP };

/** Below this many points a worker thread costs more than it saves. */
const PARALLEL_MIN_POINTS = 2000;

export const TSNE_DEFAULTS: TsneOptions = {
  perplexity: 30,
  learningRate: 'auto',
  iterations: 1000,
  seed: 42,
  init: 'pca',
  theta: 0.5,
};

/** Optimiser constants of scikit-learn's TSNE (not options there either). */
const EARLY_EXAGGERATION = 12;
const EXPLORATION_ITERATIONS = 250;
const MOMENTUM_EARLY = 0.5;
const MOMENTUM_LATE = 0.8;
const MIN_GAIN = 0.01;
const MIN_GRAD_NORM = 1e-7;
const GRAD_NORM_CHECK_EVERY = 50;
const PERPLEXITY_STEPS = 100;
const PERPLEXITY_TOLERANCE = 1e-5;
const INIT_STD = 1e-4;

/**
 * Wider inputs are first reduced to this many principal components when they have more columns
 * than rows (as openTSNE, sklearn's advice and van der Maaten's tsne do with 50): the covariance
 * that the PCA init and the k-d tree rotation use would be D x D (80 GB for 100,000 columns).
 */
export const TSNE_PCA_DIMS = 50;

/**
 * The dimensions t-SNE reduces N points of D values to before embedding them, or undefined
 * when it takes them as they are (D <= N or D <= TSNE_PCA_DIMS: the results of tall data do
 * not change). With N - 1 <= 50 components the reduction keeps every pairwise distance.
 */
export function tsneReducedDims(n: number, d: number): number | undefined {
  return d > n && d > TSNE_PCA_DIMS ? Math.max(1, Math.min(TSNE_PCA_DIMS, n - 1)) : undefined;
}

/**
 * Embeds `points` (N rows of D numbers) in 2-D; returns N*2 row-major coordinates. Rows wider
 * than they are many are reduced first (tsneReducedDims).
 */
export function tsne(points: ArrayLike<number>[], opts: TsneOptions): Float64Array {
  const o = { ...TSNE_DEFAULTS, ...opts };
  const input = validate(points, o);
  const n = input.n;
  // 0: wide data to its first principal components (the Gram path, never a D x D matrix)
  const reduced = tsneReducedDims(n, input.dim);
  const x: FlatPoints = reduced === undefined ? input : { data: gramPca(input, reduced).scores, n, dim: reduced };
  const theta = o.theta ?? 0.5;

  // 1-3: sparse joint probabilities over the nearest neighbours
  const k = Math.min(n - 1, Math.floor(3 * o.perplexity + 1));
  const axes = x.dim > 2 && x.dim <= 256 ? principalAxes(x) : undefined;
  const threads = o.threads ?? (n >= PARALLEL_MIN_POINTS && availableParallelism() >= 2 ? 2 : 1);
  const knn = knnAll(x, k, axes, threads);
  const cond = conditionalProbabilities(knn.distances, n, k, o.perplexity);
  const P = symmetrise(cond, knn.indices, n, k);

  // 4: initial embedding
  const y0 = o.init === 'pca' ? pcaInit(x, axes) : randomInit(n, o.seed);

  // 5: optimisation
  const lr = o.learningRate === 'auto' ? Math.max(n / EARLY_EXAGGERATION / 4, 50) : o.learningRate;
  const engine = createGradientEngine(P, n, theta, threads);
  try {
    const { y, attr, negF } = engine;
    y.set(y0);
    const update = new Float64Array(2 * n);
    const gains = new Float64Array(2 * n).fill(1);
    const exploration = Math.min(EXPLORATION_ITERATIONS, o.iterations);
    for (let it = 0; it < o.iterations; it++) {
      const early = it < exploration;
      const momentum = early ? MOMENTUM_EARLY : MOMENTUM_LATE;
      const invZ = 1 / engine.compute(early ? EARLY_EXAGGERATION : 1);
      let norm2 = 0;
      for (let p = 0; p < 2 * n; p++) {
        let g = 4 * (attr[p] - negF[p] * invZ);
        const u = update[p];
        // gains grow where the step keeps the direction opposite to the gradient (Jacobs 1988)
        const gain = u * g < 0 ? gains[p] + 0.2 : Math.max(gains[p] * 0.8, MIN_GAIN);
        gains[p] = gain;
        g *= gain;
        norm2 += g * g;
        const nu = momentum * u - lr * g;
        update[p] = nu;
        y[p] += nu;
      }
      const done = it + 1;
      if (o.onProgress && (done % 10 === 0 || done === o.iterations)) o.onProgress(done, o.iterations);
      // sklearn's stopping rule on a vanishing (gain-scaled) gradient, checked every 50 iterations
      if (done % GRAD_NORM_CHECK_EVERY === 0 && Math.sqrt(norm2) <= MIN_GRAD_NORM) {
        if (o.onProgress && done !== o.iterations) o.onProgress(o.iterations, o.iterations);
        break;
      }
    }
    return new Float64Array(y);
  } finally {
    engine.close();
  }
}

function validate(points: ArrayLike<number>[], o: TsneOptions): FlatPoints {
  if (!Array.isArray(points) || points.length === 0) throw new UsageError('t-SNE: no points given; pass at least one row of numbers');
  const p = o.perplexity;
  if (!Number.isFinite(p) || p <= 0) throw new UsageError(`t-SNE: perplexity must be a positive number, got ${p}`);
  if (points.length <= 3 * p) {
    throw new UsageError(
      `t-SNE: ${points.length} points are too few for perplexity ${p} (needs more than 3 x perplexity = ${3 * p}); lower the perplexity below ${(points.length / 3).toFixed(1)} or add points`,
    );
  }
  if (!Number.isInteger(o.iterations) || o.iterations < 1) throw new UsageError(`t-SNE: iterations must be a positive integer, got ${o.iterations}`);
  if (o.learningRate !== 'auto' && !(Number.isFinite(o.learningRate) && o.learningRate > 0)) {
    throw new UsageError(`t-SNE: learning rate must be 'auto' or a positive number, got ${o.learningRate}`);
  }
  if (o.init !== 'pca' && o.init !== 'random') throw new UsageError(`t-SNE: init must be 'pca' or 'random', got '${o.init}'`);
  const theta = o.theta ?? 0.5;
  if (!Number.isFinite(theta) || theta < 0 || theta > 1) throw new UsageError(`t-SNE: theta must be in [0, 1], got ${theta}`);
  if (o.threads !== undefined && !(Number.isInteger(o.threads) && o.threads >= 1)) throw new UsageError(`t-SNE: threads must be a positive integer, got ${o.threads}`);
  if (!Number.isInteger(o.seed)) throw new UsageError(`t-SNE: seed must be an integer, got ${o.seed}`);
  let x: FlatPoints;
  try {
    x = flattenPoints(points, 't-SNE input');
  } catch (e) {
    throw new UsageError(`${(e as Error).message}; every row needs the same number of features`);
  }
  if (x.dim === 0) throw new UsageError('t-SNE: the points have no features (0 columns)');
  for (let i = 0; i < x.data.length; i++) {
    if (!Number.isFinite(x.data[i])) {
      const row = Math.floor(i / x.dim);
      throw new UsageError(`t-SNE: row ${row}, feature ${i % x.dim} is ${x.data[i]}; remove or impute non-finite values`);
    }
  }
  return x;
}

/**
 * p_{j|i} for each row of sorted neighbour distances (n * k Euclidean), as sklearn's
 * _binary_search_perplexity on squared distances: the precision beta_i is bisected until the
 * entropy of row i equals log(perplexity).
 */
export function conditionalProbabilities(distances: Float64Array, n: number, k: number, perplexity: number): Float64Array {
  const P = new Float64Array(n * k);
  const d2 = new Float64Array(k);
  const target = Math.log(perplexity);
  for (let i = 0; i < n; i++) {
    const off = i * k;
    for (let j = 0; j < k; j++) d2[j] = distances[off + j] * distances[off + j];
    let beta = 1;
    let betaMin = -Infinity;
    let betaMax = Infinity;
    for (let step = 0; step < PERPLEXITY_STEPS; step++) {
      let sum = 0;
      for (let j = 0; j < k; j++) {
        const v = Math.exp(-d2[j] * beta);
        P[off + j] = v;
        sum += v;
      }
      if (sum === 0) sum = 1e-8;
      let sumDP = 0;
      for (let j = 0; j < k; j++) {
        P[off + j] /= sum;
        sumDP += d2[j] * P[off + j];
      }
      const diff = Math.log(sum) + beta * sumDP - target;
      if (Math.abs(diff) <= PERPLEXITY_TOLERANCE) break;
      if (diff > 0) {
        betaMin = beta;
        beta = betaMax === Infinity ? beta * 2 : (beta + betaMax) / 2;
      } else {
        betaMax = beta;
        beta = betaMin === -Infinity ? beta / 2 : (beta + betaMin) / 2;
      }
    }
  }
  return P;
}

/** P = (C + C^T) / sum(C + C^T) for the conditional matrix C given as n rows of k (index, value). */
export function symmetrise(cond: Float64Array, nbr: Int32Array, n: number, k: number): SparseP {
  const counts = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    counts[i] += k;
    for (let a = 0; a < k; a++) counts[nbr[i * k + a]] += 1;
  }
  const start = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) start[i + 1] = start[i] + counts[i];
  const fill = start.slice(0, n);
  const cols = new Int32Array(start[n]);
  const vals = new Float64Array(start[n]);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < k; a++) {
      const j = nbr[i * k + a];
      const v = cond[i * k + a];
      cols[fill[i]] = j;
      vals[fill[i]++] = v;
      cols[fill[j]] = i;
      vals[fill[j]++] = v;
    }
  }
  // sort each row by column and merge the (i, j) / (j, i) duplicates
  const rowPtr = new Int32Array(n + 1);
  const outCols = new Int32Array(start[n]);
  const outVals = new Float64Array(start[n]);
  let w = 0;
  let total = 0;
  const perm: number[] = [];
  for (let i = 0; i < n; i++) {
    rowPtr[i] = w;
    perm.length = 0;
    for (let e = start[i]; e < start[i + 1]; e++) perm.push(e);
    perm.sort((a, b) => cols[a] - cols[b]);
    for (let t = 0; t < perm.length; t++) {
      const e = perm[t];
      if (w > rowPtr[i] && outCols[w - 1] === cols[e]) outVals[w - 1] += vals[e];
      else {
        outCols[w] = cols[e];
        outVals[w++] = vals[e];
      }
      total += vals[e];
    }
  }
  rowPtr[n] = w;
  const norm = 1 / Math.max(total, Number.EPSILON);
  for (let e = 0; e < w; e++) outVals[e] *= norm;
  return { rowPtr, cols: outCols.slice(0, w), vals: outVals.slice(0, w) };
}

/** N(0, 1e-4^2) coordinates from the seeded RNG. */
function randomInit(n: number, seed: number): Float64Array {
  const rng = createRng(seed);
  const y = new Float64Array(2 * n);
  for (let p = 0; p < 2 * n; p++) y[p] = INIT_STD * rng.normal();
  return y;
}

/**
 * Scores on the first two principal components, scaled so the first has standard deviation 1e-4
 * (sklearn, issue #18018). The components are the principal axes when given (2 < D <= 256),
 * else the top two eigenvectors of the D x D scatter matrix by subspace iteration (linalg.ts);
 * each is signed so its largest-magnitude loading is positive.
 */
export function pcaInit(x: FlatPoints, axes?: PrincipalAxes): Float64Array {
  const dim = x.dim;
  if (axes) return scaledScores(x, axes.mean, [axes.axes.subarray(0, dim), axes.axes.subarray(dim, 2 * dim)]);
  const mean = columnMeans(x, 'sum');
  const m = Math.min(2, dim);
  const { vectors } = symmetricEigen(scatterMatrix(centre(x, mean), x.n, dim), dim, 'subspace', m);
  return scaledScores(x, mean, Array.from({ length: m }, (_, c) => vectors.subarray(c * dim, (c + 1) * dim)));
}

/** Scores of the centred points on `comps` (1 or 2 axes), scaled so the first has std 1e-4. */
function scaledScores(x: FlatPoints, mean: Float64Array, comps: Float64Array[]): Float64Array {
  const { data, n, dim } = x;
  const y = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < comps.length; c++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += (data[i * dim + d] - mean[d]) * comps[c][d];
      y[2 * i + c] = s;
    }
  }
  let m0 = 0;
  for (let i = 0; i < n; i++) m0 += y[2 * i];
  m0 /= n;
  let v0 = 0;
  for (let i = 0; i < n; i++) v0 += (y[2 * i] - m0) ** 2;
  const std = Math.sqrt(v0 / n);
  const scale = std > 0 ? INIT_STD / std : 0;
  for (let p = 0; p < 2 * n; p++) y[p] *= scale;
  if (scale === 0) {
    // constant data: fall back to a tiny deterministic random layout
    return randomInit(n, 0);
  }
  return y;
}
