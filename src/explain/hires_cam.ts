/**
 * HiResCAM: R. L. Draelos, L. Carin, "Use HiResCAM instead of Grad-CAM for faithful explanations
 * of convolutional neural networks", arXiv:2011.08891 (2020).
 *
 *   L^c = ReLU(sum_k (d y^c / d A^k) ⊙ A^k)
 *
 * the gradient multiplied element-wise instead of averaged first (Grad-CAM). Equal to Grad-CAM
 * when the gradient is constant over space, i.e. at a layer that feeds global average pooling.
 */
import type * as tf from '@tensorflow/tfjs';
import { BaseCam, type CamContext } from './base.js';

export class HiResCam extends BaseCam {
  static readonly title = 'HiResCAM';

  /** Element-wise weights: the gradients themselves. [1, h, w, k] */
  protected getCamWeights({ gradients }: CamContext): tf.Tensor4D {
    return gradients!;
  }
}
