/**
 * Saliency (vanilla gradient): K. Simonyan, A. Vedaldi, A. Zisserman, "Deep Inside Convolutional
 * Networks: Visualising Image Classification Models and Saliency Maps", ICLR Workshop 2014
 * (arXiv:1312.6034), section 3.1:
 *
 *   w = d y^c / d x                     (the gradient of the class logit, before softmax)
 *   M_ij = max_k |w_{i,j,k}|            (the pixel map: largest magnitude over the channels)
 *
 * `classGradients` is the batched gradient that SmoothGrad averages (smoothgrad.ts).
 *
 * Pure tensor maths: no files, no images, no colours.
 */
import * as tf from '@tensorflow/tfjs';
import { forwardLogits, logitsSource, type LogitsSource } from './graph.js';

export interface SaliencyResult {
  /** [H * W * C] d y^c / d x per input value (NHWC order). */
  attributions: Float32Array;
  /** [H * W] max over the channels of |d y^c / d x|. */
  pixelMap: Float32Array;
  /** y^c: the class logit of the input. */
  score: number;
}

/** The saliency pixel map of a gradient: max over the channels of |g|. [H * W * C] -> [H * W] */
export function saliencyPixelMap(gradient: ArrayLike<number>, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(h * w);
  for (let p = 0; p < h * w; p++) {
    let m = 0;
    for (let k = 0; k < c; k++) m = Math.max(m, Math.abs(gradient[p * c + k]));
    out[p] = m;
  }
  return out;
}

/** The sum over the channels (Gradient x Input, Integrated Gradients). [H * W * C] -> [H * W] */
export function channelSum(values: ArrayLike<number>, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(h * w);
  for (let p = 0; p < h * w; p++) for (let k = 0; k < c; k++) out[p] += values[p * c + k];
  return out;
}

export class Saliency {
  static readonly title = 'Saliency';
  private readonly logits: LogitsSource;

  constructor(readonly model: tf.LayersModel) {
    this.logits = logitsSource(model);
  }

  /**
   * d y^c / d x for each of a batch of inputs (one backward pass: the gradient of the sum of the
   * images' scores is each image's own gradient, as the images are independent).
   * @param inputs [n, H, W, C] -> [n, H, W, C]
   */
  classGradients(inputs: tf.Tensor4D, classIndex: number): tf.Tensor4D {
    return tf.tidy(() => tf.grad((x: tf.Tensor) => forwardLogits(this.model, x, this.logits).slice([0, classIndex], [-1, 1]).sum())(inputs) as tf.Tensor4D);
  }

  /** @param input [1, H, W, C] the preprocessed model input */
  explain(input: tf.Tensor4D, classIndex: number): SaliencyResult {
    const [, h, w, c] = input.shape;
    return tf.tidy(() => {
      const score = (x: tf.Tensor) => forwardLogits(this.model, x, this.logits).slice([0, classIndex], [1, 1]).sum() as tf.Scalar;
      const { value, grad } = tf.valueAndGrad(score)(input);
      const attributions = grad.dataSync() as Float32Array;
      return { attributions, pixelMap: saliencyPixelMap(attributions, h, w, c), score: value.dataSync()[0] };
    });
  }
}
