/**
 * The linear algebra of the projections, in one place: flat row-major point sets, centring,
 * scatter (covariance) and Gram matrices, and one symmetric eigensolver entry point,
 * `symmetricEigen`, that PCA (pca.ts), the k-d tree rotation (knn.ts), the trustworthiness
 * rotation (metrics.ts) and t-SNE's PCA initialisation (tsne.ts) all call.
 *
 * `symmetricEigen` has three algorithms behind it, chosen by the caller's need, with one result
 * type (eigenvalues descending, eigenvectors as rows, each signed so that its largest-magnitude
 * component is positive):
 *  - 'ql': Householder tridiagonalisation + implicit QL (Golub & Van Loan 8.3; the JAMA/EISPACK
 *    tred2/tql2 that ml-pca runs through ml-matrix's EVD). All eigenpairs in O(d^3): PCA.
 *  - 'jacobi': cyclic Jacobi rotations (Golub & Van Loan 8.5). All eigenpairs, slower than 'ql'
 *    for large d, accurate on small eigenvalues.
 *  - 'subspace': subspace iteration with a Rayleigh-Ritz step, the top m <= 2 eigenvectors only in
 *    O(d^2) per iteration: for t-SNE's initialisation of inputs too wide for a full decomposition.
 * Why three and not one: t-SNE coordinates are pinned bit for bit (same seed, same CSV: same
 * embed-tsne.csv), and they depend on the last bits of the principal axes (the k-d tree distances
 * and the PCA initialisation). Swapping 'jacobi' or 'subspace' for 'ql' moves those last bits and
 * with them every t-SNE coordinate after 1,000 iterations (checked: see docs/PROJECTIONS.md), so
 * each caller keeps the algorithm it had and the choice is a named argument, not a private copy.
 */
import { PCA } from 'ml-pca';
import { createRng } from '../core/rng.js';

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

/**
 * Column means [dim]. Two summation orders, kept because results downstream are pinned to their
 * last bits: 'sum' adds the values, then divides by n (the principal axes); 'terms' adds x / n
 * (PCA and the Gram path).
 */
export function columnMeans(x: FlatPoints, order: 'sum' | 'terms'): Float64Array {
  const { data, n, dim } = x;
  const mean = new Float64Array(dim);
  if (order === 'terms') {
    for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += data[i * dim + j] / n;
    return mean;
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += data[i * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= n;
  return mean;
}

/** Centred copy [n * dim] of the points: row i minus `mean`. */
export function centre(x: FlatPoints, mean: Float64Array): Float64Array {
  const { data, n, dim } = x;
  const out = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) out[i * dim + j] = data[i * dim + j] - mean[j];
  return out;
}

/**
 * Scatter matrix Xc^T Xc [dim * dim] of centred row-major data (divide by n or n - 1 for a
 * covariance): the upper triangle is accumulated one data row at a time (rows of x and of the
 * result are read in order), then mirrored.
 */
export function scatterMatrix(xc: Float64Array, n: number, dim: number): Float64Array {
  const c = new Float64Array(dim * dim);
  for (let i = 0; i < n; i++) {
    const row = i * dim;
    for (let a = 0; a < dim; a++) {
      const xa = xc[row + a];
      if (xa === 0) continue;
      const out = a * dim;
      for (let b = a; b < dim; b++) c[out + b] += xa * xc[row + b];
    }
  }
  for (let a = 0; a < dim; a++) for (let b = 0; b < a; b++) c[a * dim + b] = c[b * dim + a];
  return c;
}

/** Gram matrix G = Xc Xc^T [n * n] of centred row-major data (upper triangle, mirrored). */
export function gramMatrix(xc: Float64Array, n: number, dim: number): Float64Array {
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * dim;
    for (let j = i; j < n; j++) {
      const rj = j * dim;
      let s = 0;
      for (let c = 0; c < dim; c++) s += xc[ri + c] * xc[rj + c];
      g[i * n + j] = s;
      g[j * n + i] = s;
    }
  }
  return g;
}

export type EigenSolver = 'ql' | 'jacobi' | 'subspace';

/** Eigenpairs of a symmetric matrix, largest eigenvalue first. */
export interface SymmetricEigen {
  /** m eigenvalues, descending. */
  values: Float64Array;
  /** [m * dim] row c = the c-th unit eigenvector, signed so its largest-magnitude component is > 0. */
  vectors: Float64Array;
}

/**
 * Eigenpairs of the symmetric matrix `a` [dim * dim] (row-major; not modified): all of them with
 * 'ql' and 'jacobi', the top `top` (<= 2) with 'subspace'. See the file comment for the choice.
 */
export function symmetricEigen(a: Float64Array, dim: number, solver: EigenSolver, top = dim): SymmetricEigen {
  if (solver === 'subspace') return subspaceEigen(a, dim, Math.min(top, 2, dim));
  const full = solver === 'ql' ? qlEigen(a, dim) : jacobiEigen(a, dim);
  for (let c = 0; c < dim; c++) signByLargest(full.vectors.subarray(c * dim, (c + 1) * dim));
  if (top >= dim) return full;
  return { values: full.values.slice(0, top), vectors: full.vectors.slice(0, top * dim) };
}

/** Flips `v` in place so that its first largest-magnitude component is positive. */
function signByLargest(v: Float64Array): void {
  let best = 0;
  for (let d = 1; d < v.length; d++) if (Math.abs(v[d]) > Math.abs(v[best])) best = d;
  if (v[best] < 0) for (let d = 0; d < v.length; d++) v[d] = -v[d];
}

/** Householder + QL through ml-matrix's EVD (as ml-pca's PCA of a covariance matrix does). */
function qlEigen(a: Float64Array, dim: number): SymmetricEigen {
  const rows = Array.from({ length: dim }, (_, r) => Array.from(a.subarray(r * dim, (r + 1) * dim)));
  const model = new PCA(rows, { isCovarianceMatrix: true });
  const u = model.getEigenvectors(); // [dim, dim], one eigenvector per column, largest first
  const vectors = new Float64Array(dim * dim);
  for (let c = 0; c < dim; c++) for (let r = 0; r < dim; r++) vectors[c * dim + r] = u.get(r, c);
  return { values: Float64Array.from(model.getEigenvalues()), vectors };
}

/** Cyclic Jacobi rotations (Golub & Van Loan 8.5): at most 50 sweeps, until the off-diagonal mass is 1e-30 of the diagonal's. */
function jacobiEigen(input: Float64Array, dim: number): SymmetricEigen {
  const A = input.slice();
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
    for (let p = 0; p < dim - 1; p++) for (let q = p + 1; q < dim; q++) jacobiRotate(A, V, dim, p, q);
  }
  const order = Array.from({ length: dim }, (_, d) => d).sort((a, b) => A[b * dim + b] - A[a * dim + a] || a - b);
  const values = new Float64Array(dim);
  const vectors = new Float64Array(dim * dim);
  order.forEach((col, c) => {
    values[c] = A[col * dim + col];
    for (let d = 0; d < dim; d++) vectors[c * dim + d] = V[d * dim + col];
  });
  return { values, vectors };
}

/** One Jacobi rotation zeroing A[p][q] (A <- J^T A J, V <- V J). */
function jacobiRotate(A: Float64Array, V: Float64Array, dim: number, p: number, q: number): void {
  const apq = A[p * dim + q];
  if (Math.abs(apq) < 1e-300) return;
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

/**
 * Top `m` (1 or 2) eigenvectors of a symmetric PSD matrix by subspace iteration from a fixed
 * random start (seed 12345), at most 1,000 steps, then (m = 2) a Rayleigh-Ritz rotation of the
 * subspace onto the eigenvectors of V^T A V. Eigenvalues are the Rayleigh quotients.
 */
function subspaceEigen(A: Float64Array, dim: number, m: number): SymmetricEigen {
  const rng = createRng(12345);
  let V: Float64Array[] = Array.from({ length: m }, () => Float64Array.from({ length: dim }, () => rng.normal()));
  orthonormalise(V);
  const mul = (v: Float64Array) => matVec(A, dim, v);
  for (let it = 0; it < 1000; it++) {
    const W = V.map(mul);
    orthonormalise(W);
    let change = 0;
    for (let c = 0; c < m; c++) change = Math.max(change, 1 - Math.abs(dot(W[c], V[c])));
    V = W;
    if (change < 1e-12) break;
  }
  if (m === 2) {
    const CV = V.map(mul);
    const a = dot(V[0], CV[0]), b = dot(V[0], CV[1]), c = dot(V[1], CV[1]);
    const phi = 0.5 * Math.atan2(2 * b, a - c);
    const cs = Math.cos(phi), sn = Math.sin(phi);
    V = [V[0].map((t, d) => cs * t + sn * V[1][d]), V[0].map((t, d) => -sn * t + cs * V[1][d])];
  }
  V.forEach(signByLargest);
  const vectors = new Float64Array(m * dim);
  V.forEach((v, c) => vectors.set(v, c * dim));
  return { values: Float64Array.from(V, (v) => dot(v, mul(v))), vectors };
}

function matVec(A: Float64Array, dim: number, v: Float64Array): Float64Array {
  const out = new Float64Array(dim);
  for (let a = 0; a < dim; a++) {
    let s = 0;
    const base = a * dim;
    for (let b = 0; b < dim; b++) s += A[base + b] * v[b];
    out[a] = s;
  }
  return out;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Gram-Schmidt in place; a vector that vanishes is replaced by a unit axis. */
function orthonormalise(V: Float64Array[]): void {
  for (let c = 0; c < V.length; c++) {
    for (let p = 0; p < c; p++) {
      const t = dot(V[c], V[p]);
      for (let d = 0; d < V[c].length; d++) V[c][d] -= t * V[p][d];
    }
    const norm = Math.sqrt(dot(V[c], V[c]));
    if (norm > 1e-300) for (let d = 0; d < V[c].length; d++) V[c][d] /= norm;
    else {
      V[c].fill(0);
      V[c][c % V[c].length] = 1;
    }
  }
}

/** Principal axes of a point set: `mean`, `axes` [dim * dim] (row c = c-th axis), `variances` (divided by n), by decreasing variance. */
export interface PrincipalAxes {
  mean: Float64Array;
  axes: Float64Array;
  variances: Float64Array;
}

/** The principal axes of the points: eigenvectors of the covariance (divided by n), by the Jacobi solver. */
export function principalAxes(x: FlatPoints): PrincipalAxes {
  const mean = columnMeans(x, 'sum');
  const cov = scatterMatrix(centre(x, mean), x.n, x.dim);
  for (let i = 0; i < cov.length; i++) cov[i] /= x.n;
  const eig = symmetricEigen(cov, x.dim, 'jacobi');
  return { mean, axes: eig.vectors, variances: eig.values.map((v) => Math.max(0, v)) };
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
