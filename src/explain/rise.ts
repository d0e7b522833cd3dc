/**
 * RISE: V. Petsiuk, A. Das, K. Saenko, "RISE: Randomized Input Sampling for Explanation of
 * Black-box Models", BMVC 2018 (arXiv:1806.07421), eq. 6 and section 3.2:
 *
 *   S_{x,c}(lambda) ~= 1 / (N p) * sum_{i=1..N} P_c(x ⊙ M_i) M_i(lambda)
 *
 * with P_c the class probability (softmax of the logits, as in the paper: RISE explains the
 * black box's output score, not a logit) and M_i random masks made as in section 3.2:
 *   1. a binary s x s grid, each cell 1 with probability p;
 *   2. upsampled bilinearly to (s + 1) C_H x (s + 1) C_W, C = ceil(H / s) the cell size (the
 *      authors' code uses ceil; the paper writes floor, which leaves no room to shift when s does
 *      not divide H), half-pixel centres with clamped edges (as torch align_corners=False; the
 *      authors' skimage call reflects at the border, which differs only within half a cell of the
 *      upsampled border);
 *   3. cropped to H x W at a random shift (dy, dx), uniform in {0..C_H - 1} x {0..C_W - 1}.
 * The masks multiply the preprocessed input (a masked pixel is 0 in the model's input space, as
 * Score-CAM; for ImageNet models the dataset mean, for MNIST black) and are broadcast over the
 * channels. The masked inputs run `batch` at a time (N forward passes in all, no gradients).
 *
 * Masks are drawn one after the other from a seeded stream (s*s cell draws, then dy, then dx), so
 * the same seed gives the same masks whatever the batch size; `riseMasks` returns them for a
 * reference implementation.
 *
 * Pure tensor maths: no files, no images, no colours.
 */
import * as tf from '@tensorflow/tfjs';
import { createRng, type Rng } from '../core/rng.js';
import { forwardLogits, logitsSource, type LogitsSource } from './graph.js';

export interface RiseOptions {
  /** N: masks sampled. */
  masks: number;
  /** s: the coarse grid is s x s cells. */
  grid: number;
  /** p: probability that a cell is kept. */
  p: number;
  /** Masked inputs per forward pass. */
  batch: number;
}

export interface RiseResult {
  /** [H * W] the saliency S (in units of the class probability: E[S] = P_c for a constant model). */
  pixelMap: Float32Array;
  /** P_c(x): the class probability of the unmasked input. */
  probability: number;
  /** Forward passes of masked inputs (N). */
  evaluations: number;
}

/**
 * Bilinear interpolation taps along one axis, half-pixel centres with clamped edges (as OpenCV's
 * resize, torch's interpolate(align_corners=False) and tf.image.resizeBilinear(halfPixelCenters)):
 * output i of `outSize` reads source src = (i + 0.5) * inSize / outSize - 0.5, clamped to [0, inSize - 1].
 */
function bilinearTaps(inSize: number, outSize: number): { lo: Int32Array; hi: Int32Array; frac: Float64Array } {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float64Array(outSize);
  for (let i = 0; i < outSize; i++) {
    const src = Math.min(Math.max((i + 0.5) * (inSize / outSize) - 0.5, 0), inSize - 1);
    lo[i] = Math.floor(src);
    hi[i] = Math.min(lo[i] + 1, inSize - 1);
    frac[i] = src - lo[i];
  }
  return { lo, hi, frac };
}

/**
 * The next `n` masks of the stream `rng`: [n * H * W], row-major per mask, values in [0, 1]. The
 * upsampling is separable (rows, then columns), evaluated only on the cropped window.
 */
function nextMasks(rng: Rng, n: number, height: number, width: number, s: number, p: number): Float32Array {
  const cellH = Math.ceil(height / s);
  const cellW = Math.ceil(width / s);
  const rows = bilinearTaps(s, (s + 1) * cellH);
  const cols = bilinearTaps(s, (s + 1) * cellW);
  const out = new Float32Array(n * height * width);
  const cells = new Float64Array(s * s);
  const across = new Float64Array(s * width); // the grid's s rows interpolated at the crop's columns
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < s * s; j++) cells[j] = rng.next() < p ? 1 : 0;
    const dy = rng.int(cellH);
    const dx = rng.int(cellW);
    for (let r = 0; r < s; r++) {
      for (let x = 0; x < width; x++) {
        const c = x + dx;
        across[r * width + x] = cells[r * s + cols.lo[c]] * (1 - cols.frac[c]) + cells[r * s + cols.hi[c]] * cols.frac[c];
      }
    }
    for (let y = 0; y < height; y++) {
      const r = y + dy;
      const [a, b, f] = [rows.lo[r] * width, rows.hi[r] * width, rows.frac[r]];
      const base = (i * height + y) * width;
      for (let x = 0; x < width; x++) out[base + x] = across[a + x] * (1 - f) + across[b + x] * f;
    }
  }
  return out;
}

/** The `n` masks RISE draws with `seed`, for a reference implementation. [n * H * W], row-major per mask */
export function riseMasks(seed: number, n: number, height: number, width: number, s: number, p: number): Float32Array {
  return nextMasks(createRng(seed), n, height, width, s, p);
}

export class Rise {
  static readonly title = 'RISE';
  private readonly logits: LogitsSource;

  constructor(readonly model: tf.LayersModel, readonly options: RiseOptions) {
    const { masks, grid, p, batch } = options;
    if (!Number.isInteger(masks) || masks < 1) throw new RangeError(`RISE: masks must be a positive whole number, got ${masks}`);
    if (!Number.isInteger(grid) || grid < 1) throw new RangeError(`RISE: grid must be a positive whole number, got ${grid}`);
    if (!(p > 0 && p <= 1)) throw new RangeError(`RISE: p must be in (0, 1], got ${p}`);
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`RISE: batch must be a positive whole number, got ${batch}`);
    this.logits = logitsSource(model);
  }

  /**
   * @param input [1, H, W, C] the preprocessed model input
   * @param seed the masks' stream (`riseMasks(seed, ...)` gives the same masks)
   */
  explain(input: tf.Tensor4D, classIndex: number, seed: number): RiseResult {
    const [, h, w] = input.shape;
    const { masks: n, grid, p, batch } = this.options;
    if (grid > Math.min(h, w)) throw new RangeError(`RISE: a ${grid}x${grid} grid is finer than the ${h}x${w} input`);
    const rng = createRng(seed);
    return tf.tidy(() => {
      let total: tf.Tensor = tf.zeros([h, w]); // sum_i P_c(x ⊙ M_i) M_i
      for (let start = 0; start < n; start += batch) {
        const m = Math.min(batch, n - start);
        const next = tf.tidy(() => {
          const masks = tf.tensor4d(nextMasks(rng, m, h, w, grid, p), [m, h, w, 1]);
          const probs = tf.softmax(forwardLogits(this.model, input.mul(masks), this.logits)).slice([0, classIndex], [-1, 1]); // [m, 1]
          return total.add(masks.reshape([m, h * w]).mul(probs).sum(0).reshape([h, w]));
        });
        total.dispose();
        total = next;
      }
      const probability = tf.softmax(forwardLogits(this.model, input, this.logits)).dataSync()[classIndex];
      return { pixelMap: total.div(n * p).dataSync() as Float32Array, probability, evaluations: n };
    });
  }
}
