/**
 * Evaluation of an SST-2 classifier: P(positive) and feature vectors for every sentence of a
 * split, loss and accuracy against labels, an ensemble's mean probability.
 */
import * as tf from '@tensorflow/tfjs';
import { subwordTensors } from './batches.js';
import { lengthBatches } from './data.js';
import type { Sst2Classifier } from './model.js';

/** P(positive) for every sentence of a split, plus requested features (rows in split order). */
export async function predictSplit(model: Sst2Classifier, split: { ids: Int32Array[]; subwords?: Int32Array[][] }, batchSize: number, featureLayer?: string)
  : Promise<{ probs: Float32Array; features: Float32Array[] }> {
  const probs = new Float32Array(split.ids.length);
  const features: Float32Array[] = new Array(split.ids.length);
  for (const idx of lengthBatches(split.ids.map((s) => s.length), batchSize)) {
    const out = tf.tidy(() => {
      const time = split.ids[idx[0]].length;
      const flat = new Int32Array(idx.length * time);
      idx.forEach((i, k) => flat.set(split.ids[i], k * time));
      const subwords = split.subwords ? subwordTensors(split.subwords, idx) : undefined;
      const res = model.forward(tf.tensor2d(flat, [idx.length, time], 'int32'), { training: false, features: featureLayer ? [featureLayer] : [], subwords });
      return [tf.sigmoid(res.logits), ...(featureLayer ? [res.features[featureLayer]] : [])];
    });
    const p = (await out[0].data()) as Float32Array;
    idx.forEach((i, k) => (probs[i] = p[k]));
    if (featureLayer) {
      const f = (await out[1].data()) as Float32Array;
      const dim = out[1].shape[1]!;
      idx.forEach((i, k) => (features[i] = f.slice(k * dim, (k + 1) * dim)));
    }
    tf.dispose(out);
  }
  return { probs, features };
}

/** Mean binary cross-entropy and accuracy of probabilities against 0/1 labels. */
export function lossAndAccuracy(probs: ArrayLike<number>, labels: readonly number[]): { loss: number; acc: number } {
  let loss = 0;
  let correct = 0;
  const eps = 1e-7;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(1 - eps, Math.max(eps, probs[i]));
    loss -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
    if ((p >= 0.5 ? 1 : 0) === labels[i]) correct += 1;
  }
  return { loss: loss / labels.length, acc: correct / labels.length };
}

/** Element-wise mean of equal-length probability arrays (an ensemble's prediction). */
export function meanProbs(all: Float32Array[]): Float32Array {
  const out = new Float32Array(all[0].length);
  for (const p of all) for (let i = 0; i < out.length; i++) out[i] += p[i] / all.length;
  return out;
}

