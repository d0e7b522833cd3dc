/**
 * SmoothGrad: D. Smilkov, N. Thorat, B. Kim, F. Viégas, M. Wattenberg, "SmoothGrad: removing
 * noise by adding noise", arXiv:1706.03825, 2017, eq. 3:
 *
 *   M^_c(x) = 1/n sum_{i=1..n} M_c(x + eps_i),   eps_i ~ N(0, sigma^2) per input value,
 *   sigma   = noise * (max(x) - min(x))         (section 3.2: "noise level" as a fraction of the range)
 *
 * over any attribution M_c of the class logit y^c: the gradient (`saliency`, Simonyan et al. 2014),
 * Gradient x Input (`gradinput`: (x + eps) * grad at x + eps, as Captum's NoiseTunnel) or Integrated
 * Gradients (`ig`: the path from the same fixed baseline to each noisy copy). The per-value
 * attributions [H, W, C] are averaged first, then reduced to the pixel map the way the base method
 * does: max over the channels of |.| for the gradient, the sum over the channels for the others.
 * With noise = 0 every copy is x and SmoothGrad is its base method.
 *
 * The noise is given as standard normal draws (the caller seeds them: `standardNormals`), so that a
 * reference implementation can be fed the very same noise. The noisy copies of the gradient bases run
 * `batch` at a time (one forward and one backward pass per batch); with `ig`, each copy's path is
 * batched instead.
 *
 * Pure tensor maths: no files, no images, no colours.
 */
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../core/rng.js';
import { IntegratedGradients } from './integrated_gradients.js';
import { Saliency, channelSum, saliencyPixelMap } from './saliency.js';

/** The attributions SmoothGrad can average. */
export const SMOOTH_BASES = ['saliency', 'gradinput', 'ig'] as const;
export type SmoothBaseName = (typeof SMOOTH_BASES)[number];

export interface SmoothGradOptions {
  /** The attribution averaged. */
  base: SmoothBaseName;
  /** sigma / (max(x) - min(x)); >= 0. */
  noise: number;
  /** Noisy copies per forward/backward pass (gradient bases) or path points per pass (ig). */
  batch: number;
  /** Integrated Gradients' trapezoid intervals (base `ig` only). */
  igSteps?: number;
}

export interface SmoothGradResult {
  /** [H * W * C] the averaged attribution per input value (NHWC order). */
  attributions: Float32Array;
  /** [H * W] the pixel map (the base's reduction over the channels of `attributions`). */
  pixelMap: Float32Array;
  /** The noise's standard deviation, in the model's input space. */
  sigma: number;
  /** Noisy copies averaged. */
  samples: number;
  /** Gradient evaluations (samples, or samples * (igSteps + 1)). */
  evaluations: number;
}

/** `count` standard normal draws from the seeded stream `seed` (Box-Muller, core/rng.ts). */
export function standardNormals(seed: number, count: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: count }, () => rng.normal());
}

export class SmoothGrad {
  static readonly title = 'SmoothGrad';

  constructor(readonly model: tf.LayersModel, readonly options: SmoothGradOptions) {
    if (!(SMOOTH_BASES as readonly string[]).includes(options.base)) throw new RangeError(`SmoothGrad: base must be one of ${SMOOTH_BASES.join(', ')}, got ${options.base}`);
    if (!(options.noise >= 0) || !Number.isFinite(options.noise)) throw new RangeError(`SmoothGrad: noise must be a finite number >= 0, got ${options.noise}`);
    if (!Number.isInteger(options.batch) || options.batch < 1) throw new RangeError(`SmoothGrad: batch must be a positive whole number, got ${options.batch}`);
  }

  /**
   * @param input [1, H, W, C] the preprocessed model input
   * @param normals [n * H * W * C] standard normal draws, copy after copy (NHWC): eps_i = sigma * normals_i
   * @param baseline [1, H, W, C] Integrated Gradients' baseline (base `ig` only)
   */
  explain(input: tf.Tensor4D, classIndex: number, normals: Float32Array, baseline?: tf.Tensor4D): SmoothGradResult {
    const [, h, w, c] = input.shape;
    const size = h * w * c;
    const n = normals.length / size;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`SmoothGrad: ${normals.length} normal draws is not a whole number (>= 1) of ${h}x${w}x${c} inputs`);
    const { base, noise, batch } = this.options;
    if (base === 'ig' && !baseline) throw new RangeError('SmoothGrad: base ig needs a baseline image');
    const range = tf.tidy(() => input.max().sub(input.min()).dataSync()[0]);
    const sigma = noise * range;
    const sum = new Float64Array(size); // sum_i M_c(x + eps_i), per input value
    const noisyCopies = (start: number, m: number) => tf.tidy(() => input.add(tf.tensor4d(normals.subarray(start * size, (start + m) * size), [m, h, w, c]).mul(sigma)) as tf.Tensor4D);
    let evaluations = 0;
    if (base === 'ig') {
      const ig = new IntegratedGradients(this.model, { steps: this.options.igSteps ?? 64, batch });
      for (let i = 0; i < n; i++) {
        const noisy = noisyCopies(i, 1);
        try {
          const r = ig.explain(noisy, baseline!, classIndex);
          r.attributions.forEach((v, j) => (sum[j] += v));
          evaluations += r.evaluations;
        } finally {
          noisy.dispose();
        }
      }
    } else {
      const saliency = new Saliency(this.model);
      for (let start = 0; start < n; start += batch) {
        const m = Math.min(batch, n - start);
        const batchSum = tf.tidy(() => {
          const noisy = noisyCopies(start, m); // [m, H, W, C] x + eps_i
          const grads = saliency.classGradients(noisy, classIndex);
          return (base === 'saliency' ? grads : grads.mul(noisy)).sum(0).dataSync();
        });
        batchSum.forEach((v, j) => (sum[j] += v));
        evaluations += m;
      }
    }
    const attributions = Float32Array.from(sum, (v) => v / n);
    const pixelMap = base === 'saliency' ? saliencyPixelMap(attributions, h, w, c) : channelSum(attributions, h, w, c);
    return { attributions, pixelMap, sigma, samples: n, evaluations };
  }
}
