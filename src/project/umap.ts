/**
 * UMAP (McInnes, Healy & Melville 2018, "UMAP: Uniform Manifold Approximation and Projection for
 * Dimension Reduction", arXiv:1802.03426) through umap-js (the PAIR-code port of umap-learn):
 *  1. the exact k nearest neighbours of every point (k = nNeighbors, the point itself counted
 *     first, as umap-learn does), from dnnkit's k-d tree (knn.ts) instead of umap-js's
 *     approximate NN-descent: exact, and no random projection trees to seed;
 *  2. umap-js: fuzzy simplicial set (smooth k-NN distances, eq. 6-7 of the paper), uniform random
 *     initialisation in [-10, 10]^2, SGD on the fuzzy cross-entropy with negative sampling; the
 *     number of epochs from n as umap-js chooses (500 up to 2,500 points, 400 up to 5,000, ...).
 * Every random draw of umap-js goes through the `random` function it is given: dnnkit's seeded
 * generator (core/rng.ts), so one seed gives the same coordinates in every process.
 */
import { UMAP } from 'umap-js';
import { createRng } from '../core/rng.js';
import { knnAll } from './knn.js';
import { flattenPoints } from './linalg.js';

export interface UmapOptions {
  /** Size of the local neighbourhood, the point itself included (umap-learn's n_neighbors, default 15); needs n > nNeighbors. */
  nNeighbors: number;
  /** Minimum distance between embedded points (umap-learn's min_dist, default 0.1), in [0, spread = 1]. */
  minDist: number;
  /** Seed of every random draw (initialisation, negative sampling). */
  seed: number;
  /** Called every 10 epochs and at the end with the epochs done so far. */
  onProgress?: (epoch: number, total: number) => void;
}

export const UMAP_DEFAULTS = { nNeighbors: 15, minDist: 0.1 } as const;

/**
 * Embeds `points` (n rows of d numbers, n > nNeighbors) in 2-D; returns n*2 row-major coordinates.
 * Throws a RangeError on impossible settings (callers check them first, with their own words).
 */
export function umap(points: ArrayLike<number>[], opts: UmapOptions): Float64Array {
  const x = flattenPoints(points, 'UMAP input');
  const { n } = x;
  const k = opts.nNeighbors;
  if (!(Number.isInteger(k) && k >= 2 && k < n)) throw new RangeError(`UMAP: nNeighbors = ${k} needs 2 <= nNeighbors < n = ${n}`);
  if (!(opts.minDist >= 0 && opts.minDist <= 1)) throw new RangeError(`UMAP: minDist = ${opts.minDist} must be in [0, 1]`);
  // 1: exact neighbours, the point itself first at distance 0: [n][k]
  const knn = knnAll(x, k - 1);
  const indices = Array.from({ length: n }, (_, i) => [i, ...knn.indices.subarray(i * (k - 1), (i + 1) * (k - 1))]);
  const distances = Array.from({ length: n }, (_, i) => [0, ...knn.distances.subarray(i * (k - 1), (i + 1) * (k - 1))]);
  // 2: umap-js with dnnkit's seeded generator
  const rng = createRng(opts.seed);
  const model = new UMAP({ nComponents: 2, nNeighbors: k, minDist: opts.minDist, random: rng.next });
  model.setPrecomputedKNN(indices, distances);
  const rows = Array.from({ length: n }, (_, i) => Array.from(x.data.subarray(i * x.dim, (i + 1) * x.dim)));
  const epochs = model.initializeFit(rows);
  for (let e = 0; e < epochs; e++) {
    model.step();
    if (opts.onProgress && ((e + 1) % 10 === 0 || e + 1 === epochs)) opts.onProgress(e + 1, epochs);
  }
  const embedding = model.getEmbedding();
  const out = new Float64Array(2 * n);
  embedding.forEach((p, i) => {
    out[2 * i] = p[0];
    out[2 * i + 1] = p[1];
  });
  return out;
}
