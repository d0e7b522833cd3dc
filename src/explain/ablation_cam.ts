/**
 * Ablation-CAM: H. G. Ramaswamy, S. Desai, "Ablation-CAM: Visual Explanations for Deep
 * Convolutional Network via Gradient-free Localization", WACV 2020.
 *
 *   w_k^c = (y^c - y_k^c) / y^c        y_k^c: the class logit with channel k of A set to 0
 *   L^c   = ReLU(sum_k w_k^c A^k)
 *
 * No gradients. The ablated activations run through the layers after the target, `batch`
 * channels at a time (k partial forward passes). As in the paper, y^c divides: a negative class
 * logit flips every weight's sign.
 */
import * as tf from '@tensorflow/tfjs';
import { BaseCam, type CamContext } from './base.js';

export class AblationCam extends BaseCam {
  static readonly title = 'Ablation-CAM';
  override readonly usesGradients = false;

  /** [1, h, w, k] -> [1, k] the relative drop of the class logit when each channel is zeroed. */
  protected getCamWeights({ activations, batch, classScoresFromActivations }: CamContext): tf.Tensor2D {
    const k = activations.shape[3];
    const y = classScoresFromActivations(activations); // [1] y^c, through the same partial network
    const ablated: tf.Tensor1D[] = [];
    for (let start = 0; start < k; start += batch) {
      const n = Math.min(batch, k - start);
      ablated.push(tf.tidy(() => {
        // [n, 1, 1, k] masks: row j zeroes channel start + j
        const keep = tf.scalar(1).sub(tf.oneHot(tf.range(start, start + n, 1, 'int32'), k)).reshape([n, 1, 1, k]);
        return classScoresFromActivations(activations.mul(keep) as tf.Tensor4D); // [n]
      }));
    }
    return y.sub(tf.concat(ablated)).div(y).reshape([1, k]) as tf.Tensor2D;
  }
}
