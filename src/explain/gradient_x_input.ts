/**
 * Gradient x Input: the input times the gradient of the class score,
 *
 *   a_i = x_i * d y^c / d x_i
 *
 * (A. Shrikumar, P. Greenside, A. Shcherbina, A. Kundaje, "Not Just a Black Box: Learning
 * Important Features Through Propagating Activation Differences", arXiv:1605.01713, 2016), with
 * y^c the class logit before softmax. For a model linear in its input it is exact (the
 * contributions sum to y^c minus the bias); Integrated Gradients generalises it along a path.
 *
 * Pure tensor maths: no files, no images, no colours.
 */
import * as tf from '@tensorflow/tfjs';
import { forwardLogits, logitsSource, type LogitsSource } from './graph.js';

export interface GradientTimesInputResult {
  /** [H * W * C] attribution per input value (NHWC order). */
  attributions: Float32Array;
  /** [H * W] attribution per pixel: the sum over its channels. */
  pixelMap: Float32Array;
  /** y^c: the class logit of the input. */
  score: number;
}

export class GradientTimesInput {
  static readonly title = 'Gradient x Input';
  private readonly logits: LogitsSource;

  constructor(readonly model: tf.LayersModel) {
    this.logits = logitsSource(model);
  }

  /** @param input [1, H, W, C] the preprocessed model input */
  explain(input: tf.Tensor4D, classIndex: number): GradientTimesInputResult {
    const [, h, w, c] = input.shape;
    return tf.tidy(() => {
      const score = (x: tf.Tensor) => forwardLogits(this.model, x, this.logits).slice([0, classIndex], [1, 1]).sum() as tf.Scalar;
      const { value, grad } = tf.valueAndGrad(score)(input);
      const attributions = input.mul(grad).dataSync() as Float32Array;
      const pixelMap = new Float32Array(h * w);
      for (let p = 0; p < h * w; p++) for (let k = 0; k < c; k++) pixelMap[p] += attributions[p * c + k];
      return { attributions, pixelMap, score: value.dataSync()[0] };
    });
  }
}
