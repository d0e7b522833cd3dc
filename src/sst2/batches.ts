/**
 * The training data as tensors: a split encoded once (token ids, the ids word dropout
 * substitutes, subword ids), and the batch tensors of the sentences of one batch.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../core/rng.js';
import { encodeBackoff, encodeSentences, flattenSubwords, type Example, type Vocabulary } from './data.js';
import type { SubwordTensors } from './network.js';

/** Encoded split: token ids per sentence and labels (-1 when unlabelled). */
export interface EncodedSplit {
  ids: Int32Array[];
  /** Per token, the id it would have if unknown (backoffId): what word dropout substitutes. */
  backoff: Int32Array[];
  /** Per sentence, per token, its character n-gram ids (encodeSubwords); undefined without subword vectors. */
  subwords?: Int32Array[][];
  labels: number[];
  examples: Example[];
}

export function encodeSplit(examples: Example[], vocab: Vocabulary): EncodedSplit {
  return {
    ...encodeSentences(examples.map((e) => e.tokens), vocab),
    backoff: examples.map((e) => encodeBackoff(e.tokens, vocab)),
    labels: examples.map((e) => (e.label === null ? -1 : e.label)),
    examples,
  };
}

/**
 * Batch tensors: ids [batch, time] int32 and labels [batch] float32. With `wordDropout` > 0,
 * that share of the tokens becomes unknown (drawn from `rng`): `<oov>`, or the word's prefix entry
 * with --oov-prefix, so the model cannot lean on single rare words and the unknown-word vectors
 * learn what an unknown word at test time looks like. A dropped word keeps its subword ids (as an
 * unknown word at test time has them).
 */
export function batchTensors(split: EncodedSplit, idx: number[], wordDropout = 0, rng?: Rng): { ids: tf.Tensor2D; labels: tf.Tensor1D; subwords?: SubwordTensors } {
  const time = split.ids[idx[0]].length;
  const flat = new Int32Array(idx.length * time);
  idx.forEach((i, k) => flat.set(split.ids[i], k * time));
  if (wordDropout > 0 && rng) {
    for (let j = 0; j < flat.length; j++) if (rng.next() < wordDropout) flat[j] = split.backoff[idx[Math.floor(j / time)]][j % time];
  }
  return {
    ids: tf.tensor2d(flat, [idx.length, time], 'int32'),
    labels: tf.tensor1d(idx.map((i) => Math.max(0, split.labels[i])), 'float32'),
    ...(split.subwords ? { subwords: subwordTensors(split.subwords, idx) } : {}),
  };
}

/** The subword tensors of the sentences `idx` of a split (see flattenSubwords). */
export function subwordTensors(subwords: readonly Int32Array[][], idx: readonly number[]): SubwordTensors {
  const flat = flattenSubwords(idx.map((i) => subwords[i]));
  return {
    ids: tf.tensor1d(flat.ids, 'int32'),
    positions: tf.tensor1d(flat.positions, 'int32'),
    weights: tf.tensor1d(flat.weights, 'float32'),
  };
}

/** The tensors of a batch's subword input (to dispose). */
export const disposeSubwords = (s?: SubwordTensors): tf.Tensor[] => (s ? [s.ids, s.positions, s.weights] : []);

