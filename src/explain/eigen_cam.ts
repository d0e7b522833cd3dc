/**
 * Eigen-CAM: M. B. Muhammad, M. Yeasin, "Eigen-CAM: Class Activation Map using Principal
 * Components", IJCNN 2020 (arXiv:2008.00299).
 *
 *   O = U Sigma V^T   (SVD of the activations as a matrix O: [h*w positions, k channels])
 *   L = O v_1         (the projection on the first right singular vector)
 *
 * No gradients and no class: the map is the same for every class. The sign of v_1 is arbitrary in
 * an SVD; here it is chosen so that the projection sums to a non-negative number (for non-negative
 * activations, after a ReLU, v_1 is then non-negative: Perron-Frobenius). The base applies the
 * ReLU and the scaling to [0, 1]. v_1 comes from power iteration on O^T O in double precision; it is
 * defined only up to the gap between the first two singular values.
 */
import * as tf from '@tensorflow/tfjs';
import { BaseCam, type CamContext } from './base.js';

/**
 * The first right singular vector of a row-major [rows, cols] matrix, by power iteration on
 * O^T O (rate (sigma_2 / sigma_1)^2 per step), signed so that sum(O v) >= 0.
 */
export function firstRightSingularVector(o: ArrayLike<number>, rows: number, cols: number, maxIterations = 5000): Float64Array {
  let v = new Float64Array(cols).fill(1 / Math.sqrt(cols));
  const u = new Float64Array(rows);
  for (let it = 0; it < maxIterations; it++) {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += o[r * cols + c] * v[c];
      u[r] = s;
    }
    const next = new Float64Array(cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) next[c] += o[r * cols + c] * u[r];
    const norm = Math.hypot(...next);
    if (norm === 0) return v; // O = 0: any direction; the map is 0 anyway
    let change = 0; // max |v_new - v| (O^T O is positive semi-definite: no sign flips between steps)
    for (let c = 0; c < cols; c++) {
      next[c] /= norm;
      change = Math.max(change, Math.abs(next[c] - v[c]));
    }
    v = next;
    if (change < 1e-14) break;
  }
  let projectionSum = 0;
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) projectionSum += o[r * cols + c] * v[c];
  return projectionSum < 0 ? v.map((x) => -x) : v;
}

export class EigenCam extends BaseCam {
  static readonly title = 'Eigen-CAM';
  override readonly usesGradients = false;

  /** The channel weights v_1. [1, h, w, k] -> [1, k] */
  protected getCamWeights({ activations }: CamContext): tf.Tensor2D {
    const [, h, w, k] = activations.shape;
    return tf.tensor2d(Float32Array.from(firstRightSingularVector(activations.dataSync(), h * w, k)), [1, k]);
  }
}
