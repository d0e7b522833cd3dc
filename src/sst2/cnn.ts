/**
 * A convolutional sentence classifier for the SST-2 ensemble, after Kim 2014 ("CNN-rand": word
 * vectors learned from scratch): filters slide over windows of w consecutive word vectors for
 * each width w (3, 4, 5 by default), ReLU, the maximum of each filter over the sentence, dropout,
 * dense sigmoid.
 *
 *   c_{w,t} = ReLU(b_w + sum_{j < w} x_{t+j} K_w[j])      K_w [w, embeddingDim, filters]
 *   s = [max_t c_{3,t}, max_t c_{4,t}, max_t c_{5,t}]      [3 filters], the sentence vector
 *   logit = s W + b
 *
 * It reads n-grams where the LSTM reads sequences, so its errors differ from the LSTMs'; mixed
 * into their ensemble (`--cnn N`) it adds that diversity. A sentence shorter than the widest
 * window is padded at the end with zero vectors, which every filter sees as ReLU(b).
 *
 * Initialisation as Keras: Glorot-uniform kernels, zero biases, embeddings U(-0.05, 0.05).
 * Subword vectors (config.subwords) as in the LSTM: see network.ts wordVectors.
 */
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../core/rng.js';
import { uniform, WordNetwork, type ForwardOptions, type ForwardResult } from './network.js';
import type { Sst2ModelConfig } from './config.js';

/** Window widths of the filters when the config does not say (Kim 2014). */
export const CNN_WIDTHS: readonly number[] = [3, 4, 5];
/** Filters per width when the config does not say (Kim 2014). */
export const CNN_FILTERS = 100;

/** Size of a CNN network's sentence vector. */
export function cnnPooledDim(config: Pick<Sst2ModelConfig, 'cnnFilters' | 'cnnWidths'>): number {
  return (config.cnnFilters ?? CNN_FILTERS) * (config.cnnWidths ?? CNN_WIDTHS).length;
}

/** Embedding -> convolutions of several widths -> max over time -> dense sigmoid. */
export class CnnSentimentClassifier extends WordNetwork {
  readonly config: Sst2ModelConfig;
  readonly embedding: tf.Variable;
  /** Per width: kernel [width, embeddingDim, filters] and bias [filters]. */
  readonly convs: { width: number; kernel: tf.Variable; bias: tf.Variable }[];
  readonly denseKernel: tf.Variable;
  readonly denseBias: tf.Variable;

  /** Creates fresh weights from `seed`, or wraps `weights` (see namedWeights) when given. */
  constructor(config: Sst2ModelConfig, seed: number, weights?: tf.NamedTensorMap) {
    super(weights);
    const filters = config.cnnFilters ?? CNN_FILTERS;
    const widths = [...(config.cnnWidths ?? CNN_WIDTHS)];
    if (!Number.isInteger(filters) || filters < 1) throw new Error(`a CNN network needs at least 1 filter per width, got ${filters}`);
    if (widths.length === 0 || widths.some((w) => !Number.isInteger(w) || w < 1)) throw new Error(`CNN window widths must be whole numbers >= 1, got [${widths}]`);
    this.config = { ...config, members: 0, cnnMembers: 1, cnnFilters: filters, cnnWidths: widths };
    const rng = createRng(seed);
    const { vocabSize, embeddingDim } = config;
    this.embedding = this.weight('embedding', [vocabSize, embeddingDim], () => uniform(vocabSize * embeddingDim, 0.05, rng));
    this.convs = widths.map((width) => {
      const fanIn = width * embeddingDim;
      const fanOut = width * filters;
      const kernel = this.weight(`conv${width}/kernel`, [width, embeddingDim, filters], () => uniform(fanIn * filters, Math.sqrt(6 / (fanIn + fanOut)), rng));
      const bias = this.weight(`conv${width}/bias`, [filters], () => new Float32Array(filters));
      return { width, kernel, bias };
    });
    const featDim = cnnPooledDim(this.config);
    this.denseKernel = this.weight('dense/kernel', [featDim, 1], () => uniform(featDim, Math.sqrt(6 / (featDim + 1)), rng));
    this.denseBias = this.weight('dense/bias', [1], () => new Float32Array(1));
    this.addSubwordVectors(config.subwords, embeddingDim, seed);
  }

  /** Feature layers: `embedding` (mean word vector) and `pooled` (the max-pooled filters). */
  forward(ids: tf.Tensor2D, opts: ForwardOptions): ForwardResult {
    const drop = this.dropper(this.config.dropout, opts);
    const want = new Set(opts.features ?? []);
    const [batch, time] = ids.shape;
    const features: Record<string, tf.Tensor2D> = {};
    let words = opts.words ?? this.wordVectors(ids, opts.subwords);
    if (opts.perturbation) words = tf.add(words, opts.perturbation);
    if (want.has('embedding')) features.embedding = words.mean(0) as tf.Tensor2D;
    // [batch, time', embeddingDim], batch-major for conv1d, at least as long as the widest window.
    let x = tf.transpose(drop(words), [1, 0, 2]) as tf.Tensor3D;
    const widest = Math.max(...this.convs.map((c) => c.width));
    if (time < widest) x = tf.pad(x, [[0, 0], [0, widest - time], [0, 0]]);
    // [batch, filters] per width: each filter's largest response anywhere in the sentence.
    const maxima = this.convs.map((c) => tf.max(tf.relu(tf.add(tf.conv1d(x, c.kernel as tf.Tensor3D, 1, 'valid'), c.bias)), 1) as tf.Tensor2D);
    const pooled = (maxima.length === 1 ? maxima[0] : tf.concat(maxima, 1)) as tf.Tensor2D;
    if (want.has('pooled')) features.pooled = pooled;
    const logits = tf.add(tf.matMul(drop(pooled), this.denseKernel), this.denseBias).reshape([batch]) as tf.Tensor1D;
    return { logits, features };
  }
}
