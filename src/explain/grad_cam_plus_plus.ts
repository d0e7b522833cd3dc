/**
 * Grad-CAM++: A. Chattopadhay, A. Sarkar, P. Howlader, V. N. Balasubramanian, "Grad-CAM++:
 * Generalized Gradient-based Visual Explanations for Deep Convolutional Networks", WACV 2018
 * (arXiv:1710.11063).
 *
 *   w_k^c        = sum_{i,j} alpha_{ij}^{kc} ReLU(g_{ij}^k)
 *   alpha_ij^kc  = (g_ij^k)^2 / (2 (g_ij^k)^2 + sum_{a,b} A_ab^k (g_ij^k)^3)
 *
 * with g = d y^c / d A. The alpha above is the paper's closed form for a score passed through exp (the
 * higher derivatives become powers of g); exp's factor e^{y^c} multiplies every weight alike and
 * vanishes in the scaling to [0, 1], so the logit's own gradient is used. A zero denominator is
 * replaced by 1: it occurs where g = 0, which makes alpha 0.
 */
import * as tf from '@tensorflow/tfjs';
import { BaseCam, type CamContext } from './base.js';

export class GradCamPlusPlus extends BaseCam {
  static readonly title = 'Grad-CAM++';

  /** [1, h, w, k] -> [1, k] */
  protected getCamWeights({ activations, gradients }: CamContext): tf.Tensor2D {
    const g = gradients!;
    const g2 = g.square();
    const activationSums = activations.sum([1, 2], true); // [1, 1, 1, k] sum_{a,b} A_ab^k
    const denominator = g2.mul(2).add(activationSums.mul(g2.mul(g)));
    const safe = tf.where(denominator.notEqual(0), denominator, tf.onesLike(denominator));
    const alpha = g2.div(safe);
    return alpha.mul(tf.relu(g)).sum([1, 2]) as tf.Tensor2D;
  }
}
