/**
 * Score-CAM: H. Wang, Z. Wang, M. Du, F. Yang, Z. Zhang, S. Ding, P. Mardziel, X. Hu, "Score-CAM:
 * Score-Weighted Visual Explanations for Convolutional Neural Networks", CVPR Workshops 2020
 * (arXiv:1910.01279), Algorithm 1:
 *
 *   H^k      = s(Up(A^k))                 each channel upsampled to the input size (bilinear),
 *                                         s = min-max normalisation to [0, 1]
 *   S_k^c    = y^c(X ⊙ H^k)               the class logit of the input masked by H^k
 *   alpha_k^c = exp(S_k^c) / sum_j exp(S_j^c)   (softmax over the channels: weights in [0, 1])
 *   L^c      = ReLU(sum_k alpha_k^c A^k)
 *
 * No gradients. The masked inputs run `batch` at a time (k forward passes in all). A constant
 * channel (max = min) gives the all-zero mask. The mask multiplies the preprocessed input, so a
 * masked-out pixel is 0 in the model's input space (the dataset mean for ImageNet models).
 */
import * as tf from '@tensorflow/tfjs';
import { BaseCam, type CamContext } from './base.js';

export class ScoreCam extends BaseCam {
  static readonly title = 'Score-CAM';
  override readonly usesGradients = false;

  /** [1, h, w, k] -> [1, k] softmax over the channels of the masked inputs' class scores. */
  protected getCamWeights({ activations, input, batch, classScores }: CamContext): tf.Tensor2D {
    const [, h, w, k] = activations.shape;
    const [, height, width] = input.shape;
    const scores: tf.Tensor1D[] = [];
    for (let start = 0; start < k; start += batch) {
      const n = Math.min(batch, k - start);
      scores.push(tf.tidy(() => {
        // [n, h, w, 1] channels start .. start + n - 1 as a batch of one-channel maps
        const channels = activations.slice([0, 0, 0, start], [1, h, w, n]).transpose([3, 1, 2, 0]) as tf.Tensor4D;
        const up = tf.image.resizeBilinear(channels, [height, width], false, true); // [n, H, W, 1]
        const lo = up.min([1, 2], true);
        const range = up.max([1, 2], true).sub(lo);
        const masks = tf.where(range.greater(0), up.sub(lo).div(tf.where(range.greater(0), range, tf.onesLike(range))), tf.zerosLike(up));
        return classScores(input.mul(masks) as tf.Tensor4D); // [n, H, W, C] masked inputs -> [n]
      }));
    }
    return tf.softmax(tf.concat(scores)).reshape([1, k]) as tf.Tensor2D;
  }
}
