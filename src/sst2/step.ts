/**
 * One network's gradients for one training step, computed so that the step costs what it must:
 *
 * - The batch's word vectors (word vector plus mean subword vector) are looked up once, outside
 *   the gradient tape, and the passes take the gradient with respect to them. The tables
 *   themselves get only the rows the batch used (`RowGradient`), for the row-wise Adam of
 *   core/table_adam.ts; a dense [vocabulary, dim] gradient is never formed.
 * - Adversarial training (Miyato et al. 2017) takes its direction from the clean pass's own
 *   gradient with respect to the word vectors, so a step is two forward and two backward passes
 *   (clean, then perturbed), not three of each.
 *
 * The loss is the sum of the clean and the adversarial loss (each the batch mean of the sigmoid
 * cross-entropy); the reported loss is the clean one.
 */
import * as tf from '@tensorflow/tfjs';
import type { RowGradient } from '../core/table_adam.js';
import type { Rng } from '../core/rng.js';
import type { Sst2Network } from './model.js';
import type { SubwordTensors } from './network.js';
import { adversarialDirection } from './regularisers.js';
import { subwordBagGrad } from './subword_bag.js';

/** A training batch of one network (batches.ts batchTensors). */
export interface StepBatch {
  ids: tf.Tensor2D;
  labels: tf.Tensor1D;
  subwords?: SubwordTensors;
}

/** What one network contributes to a step. */
export interface NetworkGradients {
  /** The clean pass's loss (the batch mean). */
  loss: number;
  /** The clean pass's P(positive) per sentence. */
  probs: Float32Array;
  /** Gradients of the weights other than the tables, by variable name (the caller disposes them). */
  dense: tf.NamedTensorMap;
  /** Gradients of the table rows the batch used: the word vectors, then the subword vectors. */
  tables: RowGradient[];
  /** The adversarial perturbation, only when asked for (tests); the caller disposes it. */
  perturbation?: tf.Tensor3D;
}

/** The tables of a network: its word vectors and, when it has them, its subword vectors. */
export function networkTables(net: Sst2Network): tf.Variable[] {
  return [net.embedding, ...(net.subwordEmbedding ? [net.subwordEmbedding] : [])];
}

/** The distinct values of `ids` in order of first appearance, and each entry's index among them. */
export function distinctRows(ids: Int32Array): { rows: Int32Array; compact: Int32Array } {
  const index = new Map<number, number>();
  const compact = new Int32Array(ids.length);
  for (let j = 0; j < ids.length; j++) {
    let k = index.get(ids[j]);
    if (k === undefined) {
      k = index.size;
      index.set(ids[j], k);
    }
    compact[j] = k;
  }
  return { rows: Int32Array.from(index.keys()), compact };
}

/**
 * The gradients of `net` on `batch` (training mode: dropout masks drawn from `rng`, the clean
 * pass's first), with adversarial training when `adversarial` > 0.
 */
export function networkGradients(net: Sst2Network, batch: StepBatch, adversarial: number, rng: Rng, keepPerturbation = false): NetworkGradients {
  const tables = networkTables(net);
  const dense = net.variables.filter((v) => !tables.includes(v));
  // [time, batch, dim] word vectors: a leaf of the passes below.
  const words = tf.tidy(() => net.wordVectors(batch.ids, batch.subwords));
  let probs: tf.Tensor1D | undefined;
  const pass = (x: tf.Tensor3D, clean: boolean) => {
    const { value, grads } = tf.engine().gradients(() => {
      const { logits } = net.forward(batch.ids, { training: true, rng, words: x, subwords: batch.subwords });
      if (clean) probs = tf.keep(tf.sigmoid(logits));
      return tf.losses.sigmoidCrossEntropy(batch.labels, logits) as tf.Scalar;
    }, [...dense, x], undefined, true);
    return { value, grads: grads.map((g, i) => g ?? tf.zerosLike(i < dense.length ? dense[i] : x)) };
  };
  const clean = pass(words, true);
  let denseGrads = clean.grads.slice(0, dense.length);
  let wordGrad = clean.grads[dense.length] as tf.Tensor3D;
  let perturbation: tf.Tensor3D | undefined;
  if (adversarial > 0) {
    perturbation = adversarialDirection(wordGrad, words, adversarial);
    const moved = tf.add(words, perturbation) as tf.Tensor3D;
    const adv = pass(moved, false);
    denseGrads = denseGrads.map((g, i) => tf.tidy(() => tf.add(g, adv.grads[i])));
    const sum = tf.add(wordGrad, adv.grads[dense.length]) as tf.Tensor3D;
    tf.dispose([moved, adv.value, ...adv.grads, ...clean.grads]);
    wordGrad = sum;
  }
  const out: NetworkGradients = {
    loss: clean.value.dataSync()[0],
    probs: probs!.dataSync() as Float32Array,
    dense: Object.fromEntries(dense.map((v, i) => [v.name, denseGrads[i]])),
    tables: tableRowGradients(net, batch, wordGrad),
    ...(keepPerturbation && perturbation ? { perturbation } : {}),
  };
  tf.dispose([words, clean.value, probs!, wordGrad]);
  if (perturbation && !keepPerturbation) perturbation.dispose();
  return out;
}

/**
 * The gradient of the table rows a batch used, from the gradient `wordGrad` [time, batch, dim]
 * of its word vectors: a word vector row sums the gradient at every position of its word; a
 * subword row sums its weight times the gradient at every position of a word that has it.
 */
/** The values of the tensor `make` computes (its temporaries freed; a typed array is not returned from tidy, which would walk it). */
function read(make: () => tf.Tensor): Float32Array {
  const t = tf.tidy(make);
  const values = t.dataSync() as Float32Array;
  t.dispose();
  return values;
}

function tableRowGradients(net: Sst2Network, batch: StepBatch, wordGrad: tf.Tensor3D): RowGradient[] {
  const [time, size, dim] = wordGrad.shape;
  // The batch's ids in time-major order (the positions of the word vectors).
  const ids = batch.ids.dataSync() as Int32Array;
  const timeMajor = new Int32Array(time * size);
  for (let b = 0; b < size; b++) for (let t = 0; t < time; t++) timeMajor[t * size + b] = ids[b * time + t];
  const words = distinctRows(timeMajor);
  const out: RowGradient[] = [{
    variable: net.embedding, rows: words.rows,
    grad: read(() => tf.unsortedSegmentSum(tf.reshape(wordGrad, [time * size, dim]), tf.tensor1d(words.compact, 'int32'), words.rows.length)),
  }];
  if (net.subwordEmbedding) {
    const grams = batch.subwords;
    if (!grams) throw new Error('this network has subword vectors: give the batch\'s subword ids');
    const sub = distinctRows(grams.ids.dataSync() as Int32Array);
    out.push({
      variable: net.subwordEmbedding, rows: sub.rows,
      grad: sub.rows.length === 0 ? new Float32Array(0) : read(() => subwordBagGrad(tf.reshape(wordGrad, [time * size, dim]) as tf.Tensor2D,
        tf.tensor1d(sub.compact, 'int32'), grams.positions, grams.weights, sub.rows.length)),
    });
  }
  return out;
}
