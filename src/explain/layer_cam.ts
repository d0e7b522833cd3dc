/**
 * LayerCAM: P.-T. Jiang, C.-B. Zhang, Q. Hou, M.-M. Cheng, Y. Wei, "LayerCAM: Exploring
 * Hierarchical Class Activation Maps for Localization", IEEE TIP 30, 2021.
 *
 *   w_ij^kc = ReLU(d y^c / d A_ij^k)
 *   L^c     = ReLU(sum_k w^kc ⊙ A^k)
 *
 * only positive gradients count, each at its own position: usable at shallow layers too.
 */
import * as tf from '@tensorflow/tfjs';
import { BaseCam, type CamContext } from './base.js';

export class LayerCam extends BaseCam {
  static readonly title = 'LayerCAM';

  /** Element-wise weights: the positive part of the gradients. [1, h, w, k] */
  protected getCamWeights({ gradients }: CamContext): tf.Tensor4D {
    return tf.relu(gradients!);
  }
}
