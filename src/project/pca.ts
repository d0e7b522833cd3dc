/**
 * Principal component analysis (centred, unscaled: the same as sklearn.decomposition.PCA).
 *
 * Tall data (n > d): the d x d covariance matrix is computed here and only its
 * diagonalisation goes to the eigensolver (linalg.ts, 'ql'). ml-pca's own path multiplies
 * ml-matrix Matrices twice, once for X^T X and once in predict(), which projects on all d
 * components before keeping two: for the 2,180-d features of an SST-2 ensemble those products
 * were most of the time.
 *
 * Wide data (d >= n): the n x n Gram matrix G = Xc Xc^T of the centred rows instead (the SVD of
 * the smaller side). Xc = U S W^T gives G = U S^2 U^T, so G's eigenvectors u_c and eigenvalues
 * lambda_c = s_c^2 give the scores u_c s_c (= Xc w_c) and the covariance eigenvalues
 * lambda_c / (n - 1) without the d x d covariance: 10 rows of 100,000 columns need a 10 x 10
 * matrix, not 80 GB. `gramPca` also gives t-SNE its input reduction (tsne.ts).
 */
import { centre, columnMeans, flattenPoints, gramMatrix, scatterMatrix, symmetricEigen, type FlatPoints } from './linalg.js';

export interface PcaResult {
  /** [n * 2] row-major coordinates on the first two principal components. */
  coords: Float64Array;
  /** Share of the total variance per component, largest first (all components). */
  explainedVarianceRatio: number[];
}

/**
 * Projects `points` (n rows of d numbers, n >= 2) on their first two principal components, each
 * signed so that its largest-magnitude loading is positive (the rule of the Gram path and of the
 * principal axes; scikit-learn's sign may differ).
 */
export function pca2d(points: ArrayLike<number>[]): PcaResult {
  const n = points.length;
  const d = points[0].length;
  const coords = new Float64Array(n * 2);
  if (n > d) {
    const flat = flattenPoints(points);
    const x = centre(flat, columnMeans(flat, 'terms')); // [n, d]
    const cov = scatterMatrix(x, n, d);
    for (let i = 0; i < cov.length; i++) cov[i] /= n - 1;
    const { values, vectors } = symmetricEigen(cov, d, 'ql'); // vectors [d, d], row c = component c
    const k = Math.min(2, d);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < k; c++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += x[i * d + j] * vectors[c * d + j];
        coords[2 * i + c] = s;
      }
    }
    let total = 0;
    for (const v of values) total += v;
    return { coords, explainedVarianceRatio: Array.from(values, (v) => v / total) };
  }
  // d >= n >= 2: the Gram path, scores already [n * 2] row-major.
  const { scores, variances } = gramPca(points, 2);
  coords.set(scores);
  const total = variances.reduce((a, b) => a + b, 0);
  return { coords, explainedVarianceRatio: variances.map((v) => (total > 0 ? v / total : 0)) };
}

export interface GramPcaResult {
  /** [n * m] row-major scores of the centred points on the first m principal components. */
  scores: Float64Array;
  /** Variance along every component (eigenvalue / (n - 1)), largest first: n of them. */
  variances: number[];
}

/**
 * PCA through the n x n Gram matrix (see the file comment): the scores of the n points on their
 * first `m` (<= n) principal components and all n component variances. Memory n * d + n * n;
 * time n^2 d / 2 for G plus the symmetric eigendecomposition of it. Meant for d >= n.
 * Each component is signed so that its largest-magnitude score is positive.
 */
export function gramPca(points: ArrayLike<number>[] | FlatPoints, m: number): GramPcaResult {
  const flat = Array.isArray(points) ? flattenPoints(points) : (points as FlatPoints);
  const { n, dim } = flat;
  if (!(Number.isInteger(m) && m >= 1 && m <= n)) throw new RangeError(`gramPca: m must be an integer in [1, ${n}], got ${m}`);
  const gram = gramMatrix(centre(flat, columnMeans(flat, 'terms')), n, dim); // [n, n]
  const { values, vectors } = symmetricEigen(gram, n, 'ql'); // vectors [n, n], row c = eigenvector c
  // Below n * eps * largest, an eigenvalue is rounding noise (centring makes at least one exactly 0).
  const noise = n * Number.EPSILON * Math.max(0, values[0]);
  const lambda = Array.from(values, (v) => (v > noise ? v : 0));
  const scores = new Float64Array(n * m);
  for (let c = 0; c < m; c++) {
    const s = Math.sqrt(lambda[c]);
    for (let i = 0; i < n; i++) scores[i * m + c] = s * vectors[c * n + i];
  }
  return { scores, variances: lambda.map((v) => v / Math.max(1, n - 1)) };
}
