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
import { firstRightSingularVector } from './svd.js';

export { firstRightSingularVector };


export class EigenCam extends BaseCam {
  static readonly title = 'Eigen-CAM';
  override readonly usesGradients = false;

  /** The channel weights v_1. [1, h, w, k] -> [1, k] */
  protected getCamWeights({ activations }: CamContext): tf.Tensor2D {
    const [, h, w, k] = activations.shape;
    return tf.tensor2d(Float32Array.from(firstRightSingularVector(activations.dataSync(), h * w, k)), [1, k]);
  }
}
