/**
 * Grad-CAM: R. R. Selvaraju, M. Cogswell, A. Das, R. Vedantam, D. Parikh, D. Batra,
 * "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization", ICCV 2017
 * (arXiv:1610.02391).
 *
 *   alpha_k^c = 1/Z sum_{i,j} d y^c / d A^k_{ij}        (eq. 1: global-average-pooled gradients)
 *   L^c       = ReLU(sum_k alpha_k^c A^k)                (eq. 2)
 *
 * with y^c the class score before softmax and A^k the k-th channel of the target layer.
 * Everything else (layer lookup, gradients, ReLU, scaling) is in the shared base.
 */
import type * as tf from '@tensorflow/tfjs';
import { BaseCam, type CamContext } from './base.js';

export class GradCam extends BaseCam {
  static readonly title = 'Grad-CAM';

  /** alpha_k^c: the spatial mean of the gradients. [1, h, w, k] -> [1, k] */
  protected getCamWeights({ gradients }: CamContext): tf.Tensor2D {
    return gradients!.mean([1, 2]) as tf.Tensor2D;
  }
}
