/**
 * Principal component analysis with ml-pca (centred, unscaled: the same as
 * sklearn.decomposition.PCA). For n > d the d x d covariance matrix is diagonalised; otherwise
 * the data's SVD is used.
 *
 * For n > d, this file computes the covariance matrix and the 2-D coordinates itself and hands
 * only the diagonalisation to ml-pca (`isCovarianceMatrix`). ml-pca's own path multiplies
 * ml-matrix Matrices twice, once for X^T X and once in predict(), which projects on all d
 * components before keeping two. For the 2,693 x 2,180 features of an 8-network SST-2 ensemble,
 * those two products took 190 of 276 s. The loop below takes a few seconds.
 */
import { PCA } from 'ml-pca';

export interface PcaResult {
  /** [n * 2] row-major coordinates on the first two principal components. */
  coords: Float64Array;
  /** Share of the total variance per component, largest first (all components). */
  explainedVarianceRatio: number[];
}

/** Centred copy of the points, row-major [n * d] float64. */
function centre(points: ArrayLike<number>[], d: number): Float64Array {
  const n = points.length;
  const mean = new Float64Array(d);
  for (const p of points) for (let j = 0; j < d; j++) mean[j] += p[j] / n;
  const x = new Float64Array(n * d);
  points.forEach((p, i) => { for (let j = 0; j < d; j++) x[i * d + j] = p[j] - mean[j]; });
  return x;
}

/** Sample covariance (divided by n - 1) of centred row-major data, as d rows of d numbers. */
function covariance(x: Float64Array, n: number, d: number): number[][] {
  const c = new Float64Array(d * d);
  // Upper triangle, one data row at a time (rows of x and c are read in order).
  for (let i = 0; i < n; i++) {
    const row = i * d;
    for (let a = 0; a < d; a++) {
      const xa = x[row + a];
      if (xa === 0) continue;
      const out = a * d;
      for (let b = a; b < d; b++) c[out + b] += xa * x[row + b];
    }
  }
  return Array.from({ length: d }, (_, a) => Array.from({ length: d }, (_, b) => (a <= b ? c[a * d + b] : c[b * d + a]) / (n - 1)));
}

/** Projects `points` (n rows of d numbers, n >= 2) on their first two principal components. */
export function pca2d(points: ArrayLike<number>[]): PcaResult {
  const n = points.length;
  const d = points[0].length;
  const coords = new Float64Array(n * 2);
  if (n > d) {
    const x = centre(points, d);
    const model = new PCA(covariance(x, n, d), { isCovarianceMatrix: true });
    const u = model.getEigenvectors(); // d x d, one component per column, largest first
    const k = Math.min(2, d);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < k; c++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += x[i * d + j] * u.get(j, c);
        coords[2 * i + c] = s;
      }
    }
    return { coords, explainedVarianceRatio: model.getExplainedVariance() };
  }
  const rows = points.map((p) => Array.from(p));
  const model = new PCA(rows, { method: 'SVD', center: true, scale: false });
  const projected = model.predict(rows, { nComponents: Math.min(2, d) });
  for (let i = 0; i < n; i++) {
    coords[2 * i] = projected.get(i, 0);
    coords[2 * i + 1] = d > 1 ? projected.get(i, 1) : 0;
  }
  return { coords, explainedVarianceRatio: model.getExplainedVariance() };
}
