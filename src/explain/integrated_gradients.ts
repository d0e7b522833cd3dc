/**
 * Integrated Gradients: M. Sundararajan, A. Taly, Q. Yan, "Axiomatic Attribution for Deep
 * Networks", ICML 2017 (arXiv:1703.01365).
 *
 *   IG_i(x) = (x_i - x'_i) * integral_0^1 d F(x' + a (x - x')) / d x_i da          (eq. 1)
 *
 * with F = y^c the class logit (before softmax, as the CAMs) and x' a baseline image. The integral
 * is the trapezoid rule over `steps` equal intervals: a_k = k / m, k = 0..m, weights 1/(2m) at the
 * ends and 1/m inside. Completeness (the paper's axiom): sum_i IG_i = F(x) - F(x'); the gap
 * sum(IG) - (F(x) - F(x')) measures the quadrature error and is returned. The m + 1 path points run
 * `batch` at a time (a forward and a backward pass each).
 *
 * Pure tensor maths: no files, no images, no colours.
 */
import * as tf from '@tensorflow/tfjs';
import { forwardLogits, logitsSource, type LogitsSource } from './graph.js';

/** Options of Integrated Gradients. */
export interface IntegratedGradientsOptions {
  /** Intervals of the trapezoid rule (m): m + 1 gradient evaluations. */
  steps: number;
  /** Path points per forward/backward pass. */
  batch: number;
}

export interface IntegratedGradientsResult {
  /** [H * W * C] attribution per input value (NHWC order). */
  attributions: Float32Array;
  /** [H * W] attribution per pixel: the sum over its channels. */
  pixelMap: Float32Array;
  /** F(x): the class logit of the input. */
  scoreInput: number;
  /** F(x'): the class logit of the baseline. */
  scoreBaseline: number;
  /** sum(IG) - (F(x) - F(x')): the quadrature error (0 for exact integration). */
  completenessGap: number;
  /** Gradient evaluations (steps + 1). */
  evaluations: number;
}

/** The trapezoid weights of m intervals over [0, 1]: [1/(2m), 1/m, ..., 1/m, 1/(2m)]. */
export function trapezoidWeights(steps: number): Float64Array {
  const w = new Float64Array(steps + 1).fill(1 / steps);
  w[0] = w[steps] = 1 / (2 * steps);
  return w;
}

export class IntegratedGradients {
  static readonly title = 'Integrated Gradients';
  private readonly logits: LogitsSource;

  constructor(readonly model: tf.LayersModel, readonly options: IntegratedGradientsOptions) {
    if (!Number.isInteger(options.steps) || options.steps < 1) throw new RangeError(`IntegratedGradients: steps must be a positive whole number, got ${options.steps}`);
    if (!Number.isInteger(options.batch) || options.batch < 1) throw new RangeError(`IntegratedGradients: batch must be a positive whole number, got ${options.batch}`);
    this.logits = logitsSource(model);
  }

  /**
   * @param input [1, H, W, C] the preprocessed model input
   * @param baseline [1, H, W, C] x' (same space as the input)
   */
  explain(input: tf.Tensor4D, baseline: tf.Tensor4D, classIndex: number): IntegratedGradientsResult {
    const { steps, batch } = this.options;
    const weights = trapezoidWeights(steps);
    const [, h, w, c] = input.shape;
    return tf.tidy(() => {
      const delta = input.sub(baseline); // [1, H, W, C] x - x'
      let integral: tf.Tensor = tf.zerosLike(input); // sum_k w_k dF/dx at a_k
      // F(x') and F(x) are the path's end points (a = 0, a = 1): read off the forward passes that
      // the gradients need anyway, rather than a separate forward pass.
      let scoreBaseline = NaN;
      let scoreInput = NaN;
      for (let start = 0; start <= steps; start += batch) {
        const n = Math.min(batch, steps + 1 - start);
        const weighted = tf.tidy(() => {
          const alphas = tf.tensor1d(Array.from({ length: n }, (_, j) => (start + j) / steps)).reshape([n, 1, 1, 1]);
          const path = baseline.add(alphas.mul(delta)); // [n, H, W, C] x' + a_k (x - x')
          // The gradient of the sum of F over the points: each point gets its own (they are independent).
          let scores: tf.Tensor | undefined;
          const grads = tf.grad((x: tf.Tensor) => {
            const f = this.classScores(x, classIndex);
            scores = tf.keep(f);
            return f.sum();
          })(path);
          const values = scores!.dataSync();
          scores!.dispose();
          if (start === 0) scoreBaseline = values[0];
          if (start + n === steps + 1) scoreInput = values[n - 1];
          const kw = tf.tensor1d(Array.from(weights.subarray(start, start + n)), 'float32').reshape([n, 1, 1, 1]);
          return grads.mul(kw).sum(0, true);
        });
        const next = integral.add(weighted);
        tf.dispose([integral, weighted]);
        integral = next;
      }
      const attributions = delta.mul(integral).dataSync() as Float32Array;
      const pixelMap = new Float32Array(h * w);
      let total = 0;
      for (let p = 0; p < h * w; p++) {
        for (let k = 0; k < c; k++) pixelMap[p] += attributions[p * c + k];
        total += pixelMap[p];
      }
      return { attributions, pixelMap, scoreInput, scoreBaseline, completenessGap: total - (scoreInput - scoreBaseline), evaluations: steps + 1 };
    });
  }

  /** y^c of each of a batch of inputs. [n, H, W, C] -> [n] */
  private classScores(x: tf.Tensor, classIndex: number): tf.Tensor1D {
    return forwardLogits(this.model, x, this.logits).slice([0, classIndex], [-1, 1]).reshape([-1]) as tf.Tensor1D;
  }
}
