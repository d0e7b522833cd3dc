/**
 * Deletion and insertion metrics: V. Petsiuk, A. Das and K. Saenko, "RISE: Randomized Input
 * Sampling for Explanation of Black-box Models", BMVC 2018 (section 4.1). Pixels are removed
 * from the image (deletion) or added to a blank one (insertion) in order of decreasing
 * attribution, and the class probability is tracked; the area under the curve (AUC) summarises
 * it. A faithful attribution gives a low deletion AUC (the probability drops fast) and a high
 * insertion AUC (it rises fast).
 *
 * Pure maths on tensors; ties in the attribution are broken by a seeded random order.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../core/rng.js';
import { forwardLogits, logitsSource } from './graph.js';

export interface CausalCurves {
  /** Class probability after removing the top k_s pixels, s = 0..steps (k_s = round(s HW / steps)). */
  deletion: number[];
  /** Class probability on the blank image with the top k_s pixels restored. */
  insertion: number[];
}

/**
 * Rank of every pixel by decreasing attribution (0 = most important); equal attributions are
 * ordered at random, so a constant map is a random order.
 */
export function pixelRanks(attribution: Float32Array, rng: Rng): Int32Array {
  const n = attribution.length;
  const tie = Float64Array.from({ length: n }, () => rng.next());
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => attribution[b] - attribution[a] || tie[a] - tie[b]);
  const rank = new Int32Array(n);
  order.forEach((p, r) => (rank[p] = r));
  return rank;
}

/** Pixels changed at each of the steps + 1 points of a curve. */
export function stepCounts(pixels: number, steps: number): number[] {
  return Array.from({ length: steps + 1 }, (_, s) => Math.round((s * pixels) / steps));
}

/**
 * Deletion and insertion curves of one image.
 * @param input [1, H, W, C] the image
 * @param blank [1, H, W, C] what removed pixels become (and the insertion start)
 * @param ranks [H * W] pixel ranks from `pixelRanks`
 */
export async function causalCurves(model: tf.LayersModel, input: tf.Tensor4D, blank: tf.Tensor4D, ranks: Int32Array, classIndex: number, steps: number, batch = 256): Promise<CausalCurves> {
  const [, h, w] = input.shape;
  const counts = stepCounts(h * w, steps);
  const source = logitsSource(model);
  // keep[s, p] = 1 when pixel p is among the top counts[s]: deletion shows blank there, insertion the image.
  const top = new Float32Array(counts.length * h * w);
  counts.forEach((k, s) => {
    for (let p = 0; p < h * w; p++) if (ranks[p] < k) top[s * h * w + p] = 1;
  });
  const probs: number[] = [];
  const total = 2 * counts.length;
  for (let start = 0; start < total; start += batch) {
    const end = Math.min(total, start + batch);
    const p = tf.tidy(() => {
      const all = tf.tensor4d(top, [counts.length, h, w, 1]);
      const masks = tf.concat([all, all]).slice([start, 0, 0, 0], [end - start, h, w, 1]);
      const isDeletion = tf.tensor1d(Array.from({ length: end - start }, (_, i) => (start + i < counts.length ? 1 : 0))).reshape([-1, 1, 1, 1]);
      // deletion: image where mask = 0, blank where 1; insertion: blank where mask = 0, image where 1.
      const showImage = isDeletion.mul(tf.onesLike(masks).sub(masks)).add(tf.onesLike(isDeletion).sub(isDeletion).mul(masks));
      const images = blank.add(showImage.mul(input.sub(blank)));
      return tf.softmax(forwardLogits(model, images, source)).slice([0, classIndex], [-1, 1]).reshape([-1]);
    });
    probs.push(...(await p.data()));
    p.dispose();
  }
  return { deletion: probs.slice(0, counts.length), insertion: probs.slice(counts.length) };
}

/** Area under a curve sampled at equally spaced points on [0, 1] (trapezoid rule). */
export function auc(curve: readonly number[]): number {
  if (curve.length < 2) return curve[0] ?? 0;
  let a = 0;
  for (let i = 1; i < curve.length; i++) a += (curve[i] + curve[i - 1]) / 2;
  return a / (curve.length - 1);
}
