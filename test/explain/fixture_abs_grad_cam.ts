/**
 * Test fixture: a trivial CAM method, to show that a new method is one file (this one) plus one
 * registry line (in contract.test.ts: `absgradcam: camEntry('absgradcam', AbsGradCam, ...)`).
 *
 *   alpha_k^c = 1/Z sum_{i,j} |d y^c / d A^k_{ij}|      (Grad-CAM with the gradients' magnitude)
 */
import type * as tf from '@tensorflow/tfjs';
import { BaseCam, type CamContext } from '../../src/explain/base.js';

export class AbsGradCam extends BaseCam {
  static readonly title = 'AbsGrad-CAM';

  /** [1, h, w, k] -> [1, k] */
  protected getCamWeights({ gradients }: CamContext): tf.Tensor2D {
    return gradients!.abs().mean([1, 2]) as tf.Tensor2D;
  }
}
