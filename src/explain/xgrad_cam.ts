/**
 * XGrad-CAM: R. Fu, Q. Hu, X. Dong, Y. Guo, Y. Gao, B. Li, "Axiom-based Grad-CAM: Towards Accurate
 * Visualization and Explanation of CNNs", BMVC 2020 (arXiv:2008.02312).
 *
 *   alpha_k^c = sum_{i,j} (A_ij^k / sum_{a,b} A_ab^k) d y^c / d A_ij^k
 *
 * the gradients averaged with the activations as weights (Grad-CAM: uniform weights). Where a
 * channel's activations sum to 0 its weight is sum_ij A_ij g_ij (the channel adds nothing to the
 * map when it is all zero). When the gradient is constant over space (a layer feeding global
 * average pooling), alpha equals Grad-CAM's.
 */
import * as tf from '@tensorflow/tfjs';
import { BaseCam, type CamContext } from './base.js';

export class XGradCam extends BaseCam {
  static readonly title = 'XGrad-CAM';

  /** [1, h, w, k] -> [1, k] */
  protected getCamWeights({ activations, gradients }: CamContext): tf.Tensor2D {
    const sums = activations.sum([1, 2]); // [1, k]
    const safe = tf.where(sums.notEqual(0), sums, tf.onesLike(sums));
    return activations.mul(gradients!).sum([1, 2]).div(safe) as tf.Tensor2D;
  }
}
