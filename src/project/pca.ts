/**
 * Principal component analysis (centred, unscaled: the same as sklearn.decomposition.PCA).
 *
 * Tall data (n > d): the d x d covariance matrix is computed here and only its
 * diagonalisation is handed to ml-pca (`isCovarianceMatrix`). ml-pca's own path multiplies
 * ml-matrix Matrices twice, once for X^T X and once in predict(), which projects on all d
 * components before keeping two. For the 2,693 x 2,180 features of an 8-network SST-2 ensemble,
 * those two products took 190 of 276 s; the loop below takes a few seconds.
 *
 * Wide data (d >= n): the n x n Gram matrix G = Xc Xc^T of the centred rows instead (the SVD of
 * the smaller side). Xc = U S W^T gives G = U S^2 U^T, so G's eigenvectors u_c and eigenvalues
 * lambda_c = s_c^2 give the scores u_c s_c (= Xc w_c) and the covariance eigenvalues
 * lambda_c / (n - 1) without the d x d covariance: 10 rows of 100,000 columns need a 10 x 10
 * matrix, not 80 GB. `gramPca` also gives t-SNE its input reduction (tsne.ts).
 */
import { PCA } from 'ml-pca';
import type { FlatPoints } from './knn.js';

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
 * time n^2 d / 2 for G plus ml-pca's symmetric eigendecomposition of it. Meant for d >= n.
 * Each component is signed so that its largest-magnitude score is positive.
 */
export function gramPca(points: ArrayLike<number>[] | FlatPoints, m: number): GramPcaResult {
  const flat = Array.isArray(points) ? undefined : (points as FlatPoints);
  const n = flat ? flat.n : (points as ArrayLike<number>[]).length;
  const d = flat ? flat.dim : (points as ArrayLike<number>[])[0].length;
  if (!(Number.isInteger(m) && m >= 1 && m <= n)) throw new RangeError(`gramPca: m must be an integer in [1, ${n}], got ${m}`);
  const x = flat ? centreFlat(flat) : centre(points as ArrayLike<number>[], d);
  // G = Xc Xc^T, [n, n]: upper triangle, mirrored.
  const gram = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    const ri = i * d;
    for (let j = i; j < n; j++) {
      const rj = j * d;
      let s = 0;
      for (let c = 0; c < d; c++) s += x[ri + c] * x[rj + c];
      gram[i][j] = s;
      gram[j][i] = s;
    }
  }
  const model = new PCA(gram, { isCovarianceMatrix: true });
  const u = model.getEigenvectors(); // n x n, one eigenvector per column, largest eigenvalue first
  // Below n * eps * largest, an eigenvalue is rounding noise (centring makes at least one exactly 0).
  const eigenvalues = model.getEigenvalues();
  const noise = n * Number.EPSILON * Math.max(0, eigenvalues[0]);
  const lambda = eigenvalues.map((v) => (v > noise ? v : 0));
  const scores = new Float64Array(n * m);
  for (let c = 0; c < m; c++) {
    const s = Math.sqrt(lambda[c]);
    let best = 0;
    for (let i = 1; i < n; i++) if (Math.abs(u.get(i, c)) > Math.abs(u.get(best, c))) best = i;
    const sign = u.get(best, c) < 0 ? -s : s;
    for (let i = 0; i < n; i++) scores[i * m + c] = sign * u.get(i, c);
  }
  return { scores, variances: lambda.map((v) => v / Math.max(1, n - 1)) };
}

/** Centred copy of flat row-major points, [n * d] float64. */
function centreFlat(x: FlatPoints): Float64Array {
  const { data, n, dim } = x;
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += data[i * dim + j] / n;
  const out = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) out[i * dim + j] = data[i * dim + j] - mean[j];
  return out;
}
