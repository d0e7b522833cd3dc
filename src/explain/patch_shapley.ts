/**
 * Patch Shapley values: the players are the patches of an R x C grid over the model input and
 * the value of a coalition S is the class log-odds on the image whose patches outside S are
 * replaced by a baseline,
 *
 *   v(S) = log(p_c / (1 - p_c)),   p_c = softmax(f(x_S))_c,
 *   phi_i = sum_{S subset N\{i}} |S|! (n - |S| - 1)! / n! [v(S u {i}) - v(S)]
 *
 * (L. S. Shapley, "A value for n-person games", 1953; image-patch games as in S. M. Lundberg and
 * S.-I. Lee, "A Unified Approach to Interpreting Model Predictions", NeurIPS 2017).
 *
 * Estimator: permutation sampling (E. Strumbelj and I. Kononenko, "Explaining prediction models
 * and individual predictions with feature contributions", KAIS 2014; J. Castro, D. Gomez and
 * J. Tejada, "Polynomial calculation of the Shapley value based on sampling", 2009), each
 * permutation paired with its reverse (antithetic sampling: R. Mitchell, J. Cooper, E. Frank and
 * G. Holmes, "Sampling Permutations for Shapley Value Estimation", JMLR 2022). Every permutation's
 * marginal contributions sum to v(N) - v(empty), so the estimate is efficient by construction.
 * Coalitions are memoised (bitset keys) and evaluated in batches. `exact` enumerates all 2^n
 * coalitions (n <= 12).
 *
 * Pure maths: no files or images. The game is an interface, so tests can use games with known
 * answers and the image game is one implementation.
 */
import * as tf from '@tensorflow/tfjs';
import { UsageError } from '../core/errors.js';
import { createRng } from '../core/rng.js';
import { forwardLogits, logitsSource } from './graph.js';

/** Baselines that replace the patches outside a coalition (the names the CLI offers). */
export const BASELINES = {
  mean: 'a flat image of the photo\'s mean colour (per channel)',
  zero: 'black pixels (intensity 0, mapped through the model\'s own preprocessing)',
  blur: 'a Gaussian blur of the image (sigma = half a patch)',
} as const;
export type BaselineName = keyof typeof BASELINES;
export const BASELINE_NAMES = Object.keys(BASELINES) as BaselineName[];

/** Largest number of players `exact` enumerates (2^12 = 4,096 coalitions). */
export const MAX_EXACT_PLAYERS = 12;

/** A cooperative game: the values of batches of coalitions (membership 0/1 per player). */
export interface CoalitionGame {
  /** Number of players. */
  readonly players: number;
  /** v(S) for each coalition. */
  values(coalitions: readonly Uint8Array[]): Promise<Float64Array>;
}

/** Options of the estimators (defaults in DEFAULT_SHAPLEY_OPTIONS). */
export interface ShapleyOptions {
  /** Permutations to sample (rounded up to an even number: each one is paired with its reverse). */
  samples: number;
  /** Coalitions per forward pass. */
  batch: number;
  /** Enumerate all coalitions instead of sampling (players <= MAX_EXACT_PLAYERS). */
  exact: boolean;
  /** Seed of the permutation sampler. */
  seed: number;
  /** Called after each evaluated batch with (coalitions evaluated, coalitions planned). */
  onProgress?: (done: number, total: number) => void;
}

export const DEFAULT_SHAPLEY_OPTIONS: ShapleyOptions = { samples: 32, batch: 16, exact: false, seed: 42 };

export interface ShapleyResult {
  /** Shapley value estimate per player. */
  phi: number[];
  /** Standard error per player (0 for exact). */
  se: number[];
  /** 95% confidence interval per player (Student t over the antithetic pairs). */
  ciLow: number[];
  ciHigh: number[];
  /** v(N): all players present (the original image). */
  vFull: number;
  /** v(empty): the baseline image. */
  vEmpty: number;
  /** |sum(phi) - (v(N) - v(empty))| / max(|v(N) - v(empty)|, 1e-6). */
  efficiencyGap: number;
  /** Distinct coalitions evaluated (forward passes). */
  evaluations: number;
  /** Permutations used (0 for exact). */
  permutations: number;
  method: 'exact' | 'permutation';
}

/** Bitset key of a coalition: 16 players per UTF-16 code unit. */
export function coalitionKey(c: Uint8Array): string {
  let key = '';
  for (let i = 0; i < c.length; i += 16) {
    let word = 0;
    for (let j = i; j < Math.min(i + 16, c.length); j++) if (c[j]) word |= 1 << (j - i);
    key += String.fromCharCode(word);
  }
  return key;
}

/** Evaluates coalitions through a memo, unseen ones in batches; returns their values in order. */
class MemoGame {
  readonly memo = new Map<string, number>();
  constructor(private readonly game: CoalitionGame, private readonly batch: number, private readonly onProgress?: (done: number, total: number) => void) {}

  async values(coalitions: readonly Uint8Array[]): Promise<Float64Array> {
    const keys = coalitions.map(coalitionKey);
    const todo: Uint8Array[] = [];
    const todoKeys = new Set<string>();
    keys.forEach((k, i) => {
      if (!this.memo.has(k) && !todoKeys.has(k)) {
        todoKeys.add(k);
        todo.push(coalitions[i]);
      }
    });
    const total = this.memo.size + todo.length;
    for (let start = 0; start < todo.length; start += this.batch) {
      const chunk = todo.slice(start, start + this.batch);
      const v = await this.game.values(chunk);
      chunk.forEach((c, j) => {
        if (!Number.isFinite(v[j])) throw new Error(`the model gave a non-finite value (${v[j]}) for a coalition; check the model and input`);
        this.memo.set(coalitionKey(c), v[j]);
      });
      this.onProgress?.(this.memo.size, total);
    }
    return Float64Array.from(keys, (k) => this.memo.get(k)!);
  }
}

/** Two-sided 95% Student t quantile (Cornish-Fisher expansion; exact table for small df). */
export function tQuantile975(df: number): number {
  const table = [NaN, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];
  if (df <= 10) return table[Math.max(1, Math.round(df))];
  const z = 1.959964;
  const g1 = (z ** 3 + z) / 4;
  const g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96;
  const g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384;
  return z + g1 / df + g2 / df ** 2 + g3 / df ** 3;
}

function efficiencyGap(phi: readonly number[], vFull: number, vEmpty: number): number {
  const total = phi.reduce((a, b) => a + b, 0);
  return Math.abs(total - (vFull - vEmpty)) / Math.max(Math.abs(vFull - vEmpty), 1e-6);
}

/** Exact Shapley values by enumerating all 2^n coalitions (n <= MAX_EXACT_PLAYERS). */
export async function exactShapley(game: CoalitionGame, opts: Pick<ShapleyOptions, 'batch' | 'onProgress'> = DEFAULT_SHAPLEY_OPTIONS): Promise<ShapleyResult> {
  const n = game.players;
  if (n > MAX_EXACT_PLAYERS) throw new UsageError(`--exact enumerates 2^n coalitions and allows at most ${MAX_EXACT_PLAYERS} patches, got ${n}; drop --exact or use a smaller grid`);
  const count = 2 ** n;
  const coalitions = Array.from({ length: count }, (_, mask) => Uint8Array.from({ length: n }, (_, i) => (mask >> i) & 1));
  const memo = new MemoGame(game, opts.batch, opts.onProgress);
  const v = await memo.values(coalitions);
  // Shapley weight of a coalition of size s not containing i: s! (n - s - 1)! / n!
  const fact = [1];
  for (let i = 1; i <= n; i++) fact.push(fact[i - 1] * i);
  const weight = Array.from({ length: n }, (_, s) => (fact[s] * fact[n - s - 1]) / fact[n]);
  const popcount = (m: number) => { let c = 0; while (m) { m &= m - 1; c++; } return c; };
  const phi = new Array<number>(n).fill(0);
  for (let mask = 0; mask < count; mask++) {
    const s = popcount(mask);
    for (let i = 0; i < n; i++) {
      if (mask & (1 << i)) continue;
      phi[i] += weight[s] * (v[mask | (1 << i)] - v[mask]);
    }
  }
  const vFull = v[count - 1];
  const vEmpty = v[0];
  const zeros = new Array<number>(n).fill(0);
  return { phi, se: zeros, ciLow: phi.slice(), ciHigh: phi.slice(), vFull, vEmpty, efficiencyGap: efficiencyGap(phi, vFull, vEmpty), evaluations: memo.memo.size, permutations: 0, method: 'exact' };
}

/**
 * Shapley values by antithetic permutation sampling. Each pair (pi, reverse(pi)) gives one
 * sample per player, the mean of its two marginal contributions; phi is the mean over pairs and
 * the standard error is the pairs' standard deviation / sqrt(pairs).
 */
export async function sampledShapley(game: CoalitionGame, opts: ShapleyOptions): Promise<ShapleyResult> {
  const n = game.players;
  const pairs = Math.max(2, Math.ceil(opts.samples / 2));
  const rng = createRng(opts.seed);
  const perms: number[][] = [];
  for (let p = 0; p < pairs; p++) {
    const pi = rng.permutation(n);
    perms.push(pi, pi.slice().reverse());
  }
  // All prefix coalitions of all permutations: S_0 = empty, ..., S_n = N.
  const prefixes: Uint8Array[] = [];
  for (const pi of perms) {
    const c = new Uint8Array(n);
    prefixes.push(c.slice());
    for (const player of pi) {
      c[player] = 1;
      prefixes.push(c.slice());
    }
  }
  const memo = new MemoGame(game, opts.batch, opts.onProgress);
  const v = await memo.values(prefixes);
  const sum = new Float64Array(n);
  const sumSq = new Float64Array(n);
  for (let p = 0; p < pairs; p++) {
    const pairSample = new Float64Array(n);
    for (let q = 0; q < 2; q++) {
      const k = 2 * p + q;
      const base = k * (n + 1);
      perms[k].forEach((player, j) => {
        pairSample[player] += 0.5 * (v[base + j + 1] - v[base + j]);
      });
    }
    for (let i = 0; i < n; i++) {
      sum[i] += pairSample[i];
      sumSq[i] += pairSample[i] ** 2;
    }
  }
  const phi = Array.from(sum, (s) => s / pairs);
  const se = phi.map((m, i) => Math.sqrt(Math.max(0, (sumSq[i] - pairs * m * m) / (pairs - 1)) / pairs));
  const t = tQuantile975(pairs - 1);
  const vFull = v[n];
  const vEmpty = v[0];
  const gap = efficiencyGap(phi, vFull, vEmpty);
  if (gap > 1e-4) throw new Error(`internal error: permutation estimate not efficient (relative gap ${gap})`);
  return {
    phi, se,
    ciLow: phi.map((m, i) => m - t * se[i]),
    ciHigh: phi.map((m, i) => m + t * se[i]),
    vFull, vEmpty, efficiencyGap: gap, evaluations: memo.memo.size, permutations: perms.length, method: 'permutation',
  };
}

/** Shapley values of a game: exact or sampled according to `opts.exact`. */
export function shapleyValues(game: CoalitionGame, opts: ShapleyOptions): Promise<ShapleyResult> {
  return opts.exact ? exactShapley(game, opts) : sampledShapley(game, opts);
}

/** A patch grid: rows x cols patches over an image of height x width pixels. */
export interface PatchGrid {
  rows: number;
  cols: number;
}

/**
 * Parses `--patches K` (a perfect square: a sqrt(K) x sqrt(K) grid) or `--grid RxC`.
 */
export function parseGrid(patches: number | undefined, grid: string | undefined): PatchGrid {
  if (grid !== undefined) {
    const m = /^\s*(\d+)\s*[xX*]\s*(\d+)\s*$/.exec(grid);
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new UsageError(`--grid must look like RxC (e.g. 3x5), got '${grid}'`);
    if (patches !== undefined && patches !== Number(m[1]) * Number(m[2])) {
      throw new UsageError(`--patches ${patches} disagrees with --grid ${grid} (${Number(m[1]) * Number(m[2])} patches); give one of them`);
    }
    return { rows: Number(m[1]), cols: Number(m[2]) };
  }
  const k = patches ?? 16;
  const side = Math.round(Math.sqrt(k));
  if (!Number.isInteger(k) || k < 1 || side * side !== k) {
    const lo = Math.floor(Math.sqrt(k)) ** 2;
    const hi = Math.ceil(Math.sqrt(k)) ** 2;
    throw new UsageError(`--patches must be a perfect square (a k x k grid), got ${k}; use ${lo > 0 ? `${lo} or ` : ''}${hi}, or --grid RxC for other shapes`);
  }
  return { rows: side, cols: side };
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

/**
 * PatchShapley: Shapley values of the patches of one image for one class.
 */
export class PatchShapley {
  readonly methodName = 'patch Shapley';
  constructor(readonly model: tf.LayersModel, readonly grid: PatchGrid, readonly options: ShapleyOptions = DEFAULT_SHAPLEY_OPTIONS) {
    if (options.exact && grid.rows * grid.cols > MAX_EXACT_PLAYERS) {
      throw new UsageError(`--exact allows at most ${MAX_EXACT_PLAYERS} patches, got ${grid.rows * grid.cols}; drop --exact or use a smaller grid`);
    }
    if (!Number.isInteger(options.batch) || options.batch < 1) throw new UsageError(`--batch must be a positive whole number, got ${options.batch}`);
  }

  /**
   * @param input [1, H, W, C] model input
   * @param baseline [1, H, W, C] the image with every patch absent
   */
  async explain(input: tf.Tensor4D, baseline: tf.Tensor4D, classIndex: number): Promise<ShapleyResult> {
    const game = new ImagePatchGame(this.model, input, baseline, this.grid, classIndex);
    try {
      return await shapleyValues(game, this.options);
    } finally {
      game.dispose();
    }
  }
}
