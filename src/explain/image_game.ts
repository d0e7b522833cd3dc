/**
 * The image game of patch Shapley values: the players are the patches of an R x C grid over the
 * model input, and the value of a coalition S is the class log-odds on the image whose patches
 * outside S show a baseline,
 *
 *   v(S) = log(p_c / (1 - p_c)),   p_c = softmax(f(x_S))_c,   x_S = b + m_S * (x - b)
 *
 * (image-patch games as in S. M. Lundberg and S.-I. Lee, "A Unified Approach to Interpreting Model
 * Predictions", NeurIPS 2017). Here: the patch grid, the masking, the baselines and the game; the
 * estimators are in shapley.ts, the command-line parsing in options.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { UsageError } from '../core/errors.js';
import { forwardLogits, logitsSource } from './graph.js';
import type { CoalitionGame } from './shapley.js';

/** Baselines that replace the patches outside a coalition (the names the CLI offers). */
export const BASELINES = {
  mean: 'a flat image of the photo\'s mean colour (per channel)',
  zero: 'black pixels (intensity 0, mapped through the model\'s own preprocessing)',
  blur: 'a Gaussian blur of the image (sigma = half a patch)',
} as const;
export type BaselineName = keyof typeof BASELINES;
export const BASELINE_NAMES = Object.keys(BASELINES) as BaselineName[];

/** A patch grid: rows x cols patches over an image of height x width pixels. */
export interface PatchGrid {
  rows: number;
  cols: number;
}

/** Patch index of every pixel: patch (r, c) covers rows floor(r H / R) .. floor((r + 1) H / R) - 1. */
export function patchIndexMap(grid: PatchGrid, height: number, width: number): Int32Array {
  if (height < grid.rows || width < grid.cols) {
    throw new UsageError(`the ${grid.rows}x${grid.cols} patch grid does not fit the ${height}x${width} model input; use fewer patches`);
  }
  const idx = new Int32Array(height * width);
  for (let y = 0; y < height; y++) {
    const r = Math.floor((y * grid.rows) / height);
    for (let x = 0; x < width; x++) idx[y * width + x] = r * grid.cols + Math.floor((x * grid.cols) / width);
  }
  return idx;
}

/**
 * The per-channel affine map from 8-bit display pixels to model inputs, fitted by least squares
 * (input = a_c * pixel / 255 + b_c: ImageNet normalisation, or identity for MNIST). Returns
 * undefined when the input is not such a map of the display image.
 */
export function fitPixelMap(input: Float32Array, display: Uint8Array, channels: number): { scale: number[]; offset: number[] } | undefined {
  const pixels = display.length / 3;
  if (input.length !== pixels * channels) return undefined;
  const scale: number[] = [];
  const offset: number[] = [];
  // One input channel: the luma of the RGB pixel (ITU-R 601, as the models' preprocessing).
  const pixel = (p: number, c: number) => (channels === 3 ? display[p * 3 + c] : 0.299 * display[p * 3] + 0.587 * display[p * 3 + 1] + 0.114 * display[p * 3 + 2]) / 255;
  for (let c = 0; c < channels; c++) {
    let sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (let p = 0; p < pixels; p++) {
      const x = pixel(p, c);
      const y = input[p * channels + c];
      sx += x; sy += y; sxx += x * x; sxy += x * y;
    }
    const varX = sxx / pixels - (sx / pixels) ** 2;
    if (varX < 1e-8) return undefined;
    const a = (sxy / pixels - (sx / pixels) * (sy / pixels)) / varX;
    const b = sy / pixels - a * (sx / pixels);
    let maxErr = 0;
    for (let p = 0; p < pixels; p++) {
      const x = pixel(p, c);
      maxErr = Math.max(maxErr, Math.abs(a * x + b - input[p * channels + c]));
    }
    if (maxErr > 0.02 * Math.max(1, Math.abs(a))) return undefined;
    scale.push(a);
    offset.push(b);
  }
  return { scale, offset };
}

/** A 1-D Gaussian kernel of standard deviation sigma, radius ceil(3 sigma). */
function gaussianKernel(sigma: number): Float32Array {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const k = Float32Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const s = k.reduce((a, b) => a + b, 0);
  return k.map((v) => v / s);
}

/**
 * The baseline image for `name`. `zeroValue` is the model-input value of a black pixel per channel
 * (from `fitPixelMap`; 0 when unknown).
 * @param input [1, H, W, C]
 * @returns [1, H, W, C]
 */
export function makeBaseline(input: tf.Tensor4D, name: BaselineName, grid: PatchGrid, zeroValue?: readonly number[]): tf.Tensor4D {
  const [, h, w, ch] = input.shape;
  return tf.tidy(() => {
    if (name === 'mean') return tf.onesLike(input).mul(input.mean([1, 2], true)) as tf.Tensor4D;
    if (name === 'zero') return tf.onesLike(input).mul(tf.tensor1d(zeroValue ? Array.from(zeroValue) : new Array(ch).fill(0))) as tf.Tensor4D;
    // blur: separable Gaussian, sigma = half a patch, reflect padding keeps the borders' colour.
    const sigma = Math.max(0.5, Math.min(h / grid.rows, w / grid.cols) / 2);
    const k = gaussianKernel(sigma);
    const r = (k.length - 1) / 2;
    const rr = Math.min(r, h - 1, w - 1);
    const kk = rr === r ? k : gaussianKernel(rr / 3);
    const kernelX = tf.tensor4d(kk, [1, kk.length, 1, 1]).tile([1, 1, ch, 1]) as tf.Tensor4D;
    const kernelY = tf.tensor4d(kk, [kk.length, 1, 1, 1]).tile([1, 1, ch, 1]) as tf.Tensor4D;
    const padded = tf.mirrorPad(input, [[0, 0], [rr, rr], [rr, rr], [0, 0]], 'reflect');
    return tf.depthwiseConv2d(tf.depthwiseConv2d(padded, kernelX, 1, 'valid'), kernelY, 1, 'valid') as tf.Tensor4D;
  });
}

/**
 * v(S) = log(p_c / (1 - p_c)) computed stably from logits: l_c - logsumexp_{j != c} l_j.
 * @param logits [batch, classes]
 */
export function classLogOdds(logits: tf.Tensor2D, classIndex: number): tf.Tensor1D {
  return tf.tidy(() => {
    const k = logits.shape[1];
    const own = logits.slice([0, classIndex], [-1, 1]).reshape([-1]);
    const others = logits.add(tf.oneHot([classIndex], k).toFloat().mul(-1e30)); // mask class c out
    return own.sub(others.logSumExp(1)) as tf.Tensor1D;
  });
}

/** The image game: players are patches; absent patches show the baseline. */
export class ImagePatchGame implements CoalitionGame {
  readonly players: number;
  private readonly patchIndex: tf.Tensor1D;
  private readonly source;

  /**
   * @param input [1, H, W, C] model input (kept, not copied: the caller owns it)
   * @param baseline [1, H, W, C] (caller owns it)
   */
  constructor(private readonly model: tf.LayersModel, private readonly input: tf.Tensor4D, private readonly baseline: tf.Tensor4D, readonly grid: PatchGrid, readonly classIndex: number) {
    const [, h, w] = input.shape;
    this.players = grid.rows * grid.cols;
    this.patchIndex = tf.tensor1d(patchIndexMap(grid, h, w), 'int32');
    this.source = logitsSource(model);
    const classes = this.source.tensor.shape[1] ?? 0;
    if (classes < 2) throw new UsageError(`patch Shapley needs a classifier with at least 2 classes (log-odds of softmax), the model has ${classes}`);
    if (classIndex < 0 || classIndex >= classes) throw new UsageError(`class index ${classIndex} is out of range: the model has ${classes} classes (0-${classes - 1})`);
  }

  async values(coalitions: readonly Uint8Array[]): Promise<Float64Array> {
    const [, h, w] = this.input.shape;
    const v = tf.tidy(() => {
      const members = tf.tensor2d(coalitions.map((c) => Array.from(c)), [coalitions.length, this.players], 'float32');
      const mask = tf.gather(members, this.patchIndex, 1).reshape([coalitions.length, h, w, 1]); // [B, H, W, 1]
      const images = this.baseline.add(mask.mul(this.input.sub(this.baseline))) as tf.Tensor4D; // [B, H, W, C]
      return classLogOdds(forwardLogits(this.model, images, this.source), this.classIndex);
    });
    const data = await v.data();
    v.dispose();
    return Float64Array.from(data);
  }

  /** Releases the tensors the game holds. */
  dispose(): void {
    this.patchIndex.dispose();
  }
}
