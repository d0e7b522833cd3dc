/**
 * Principal component analysis with ml-pca (centred, unscaled: the same as
 * sklearn.decomposition.PCA). For n > d the d x d covariance matrix is diagonalised (fast for
 * the few hundred feature dimensions of a network layer); otherwise the data's SVD is used.
 */
import { PCA } from 'ml-pca';

export interface PcaResult {
  /** [n * 2] row-major coordinates on the first two principal components. */
  coords: Float64Array;
  /** Share of the total variance per component, largest first (all components). */
  explainedVarianceRatio: number[];
}

/** Projects `points` (n rows of d numbers, n >= 2) on their first two principal components. */
export function pca2d(points: ArrayLike<number>[]): PcaResult {
  const rows = points.map((p) => Array.from(p));
  const n = rows.length;
  const d = rows[0].length;
  const model = new PCA(rows, { method: n > d ? 'covarianceMatrix' : 'SVD', center: true, scale: false });
  const projected = model.predict(rows, { nComponents: Math.min(2, d) });
  const coords = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    coords[2 * i] = projected.get(i, 0);
    coords[2 * i + 1] = d > 1 ? projected.get(i, 1) : 0;
  }
  return { coords, explainedVarianceRatio: model.getExplainedVariance() };
}
