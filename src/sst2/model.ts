/**
 * The SST-2 classifier: Embedding -> LSTM layer(s) (optionally bidirectional) -> dense sigmoid,
 * written with tf ops rather than tfjs-layers so that each time step is a handful of kernels.
 *
 * LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000), per step t:
 *   z_t = x_t W_x + h_{t-1} W_h + b            [batch, 4 units], gates in the order i, f, g, o
 *   i = sigma(z_i), f = sigma(z_f), g = tanh(z_g), o = sigma(z_o)
 *   c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
 * Speed-ups over tf.layers.lstm, same maths: (1) the input projection x_t W_x + b of every time
 * step is one matmul over [time * batch, in] before the recurrence; (2) the four gates come from
 * one fused matmul with W_h [units, 4 units] and one split; (3) sequences are time-major, so the
 * per-step inputs come from one unstack; (4) batches hold sentences of equal length (see
 * data.ts), so there is no masking and the final state is the state after the last word.
 *
 * Initialisation as Keras: Glorot-uniform W_x and dense kernel, orthogonal W_h per gate, zero
 * bias except the forget gate (1, Jozefowicz et al. 2015), embeddings U(-0.05, 0.05).
 */
import * as tf from '@tensorflow/tfjs';
import { createRng, LEGACY_STREAM_SEEDS, type Rng } from '../core/rng.js';
import { lstmLayer } from './lstm_cell.js';
import { CnnSentimentClassifier } from './cnn.js';
import { POOLINGS, type Pooling, type Sst2ModelConfig } from './config.js';
import { uniform, WordNetwork, type ForwardOptions, type ForwardResult } from './network.js';

export type { ForwardOptions, ForwardResult } from './network.js';
export { POOLINGS, type Pooling, type Sst2ModelConfig } from './config.js';

/** Size of the sentence vector fed to the dense layer. */
export function pooledDim(config: Pick<Sst2ModelConfig, 'units' | 'bidirectional' | 'pooling'>): number {
  return config.units * (config.bidirectional ? 2 : 1) * (config.pooling === 'meanmax' ? 2 : 1);
}

/**
 * Pools time-major hidden states `hs` [time, batch, dim] to [batch, dim'] (tf ops, so autodiff
 * gives the gradient). `finals` are the final states [batch, dim] (used by `last`).
 */
export function poolStates(hs: tf.Tensor3D, finals: tf.Tensor2D, pooling: Pooling): tf.Tensor2D {
  switch (pooling) {
    case 'last': return finals;
    case 'max': return tf.max(hs, 0) as tf.Tensor2D;
    case 'mean': return tf.mean(hs, 0) as tf.Tensor2D;
    case 'meanmax': return tf.concat([tf.mean(hs, 0), tf.max(hs, 0)], 1) as tf.Tensor2D;
    default: throw new Error(`unknown pooling '${pooling as string}'`);
  }
}

/** Weights of one LSTM direction. */
interface LstmCellWeights {
  /** [in, 4 units] input kernel, gates i|f|g|o. */
  kernel: tf.Variable;
  /** [units, 4 units] recurrent kernel. */
  recurrentKernel: tf.Variable;
  /** [4 units] bias. */
  bias: tf.Variable;
}

/**
 * Names of the layers whose activations can be extracted (`--layer`). The LSTM layers exist
 * only when the model has LSTM networks (members, missing = 1).
 */
export function featureLayerNames(config: Pick<Sst2ModelConfig, 'layers' | 'members'>): string[] {
  const lstm = (config.members ?? 1) > 0 ? [...Array.from({ length: config.layers }, (_, i) => `lstm${i + 1}`), 'lstm'] : [];
  return ['embedding', ...lstm, 'pooled'];
}

/** What each feature layer holds (help text). */
export const FEATURE_LAYER_HELP =
  "embedding = mean word vector of the sentence; lstmK = final state of LSTM layer K (both directions concatenated); lstm = the last LSTM layer's final state; pooled = the sentence vector the dense layer sees (the last layer's states pooled over time as --pooling says; for a CNN network its max-pooled filters); in an ensemble, the networks' vectors side by side (LSTM layers from the LSTM networks only)";

/** Orthogonal [n, n] matrix (Gram-Schmidt on a Gaussian matrix), row-major. */
function orthogonal(n: number, rng: Rng): Float32Array {
  const q = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) q[i] = rng.normal();
  for (let r = 0; r < n; r++) {
    for (let p = 0; p < r; p++) {
      let dot = 0;
      for (let k = 0; k < n; k++) dot += q[r * n + k] * q[p * n + k];
      for (let k = 0; k < n; k++) q[r * n + k] -= dot * q[p * n + k];
    }
    let norm = 0;
    for (let k = 0; k < n; k++) norm += q[r * n + k] ** 2;
    norm = Math.sqrt(norm);
    for (let k = 0; k < n; k++) q[r * n + k] /= norm;
  }
  return Float32Array.from(q);
}

/** Embedding + LSTM(s) + dense sigmoid classifier over equal-length id batches. */
export class LstmSentimentClassifier extends WordNetwork {
  readonly config: Sst2ModelConfig;
  readonly embedding: tf.Variable;
  /** cells[layer][direction], direction 0 = left-to-right, 1 = right-to-left. */
  readonly cells: LstmCellWeights[][];
  readonly denseKernel: tf.Variable;
  readonly denseBias: tf.Variable;

  /** Creates fresh weights from `seed`, or wraps `weights` (see namedWeights) when given. */
  constructor(config: Sst2ModelConfig, seed: number, weights?: tf.NamedTensorMap) {
    super(weights);
    this.config = { ...config, pooling: config.pooling ?? 'last' };
    if ((config.members ?? 1) !== 1 || (config.cnnMembers ?? 0) !== 0) throw new Error('LstmSentimentClassifier is one network; use createClassifier for an ensemble');
    if (!(POOLINGS as readonly string[]).includes(this.config.pooling!)) throw new Error(`unknown pooling '${this.config.pooling}'`);
    const rng = createRng(seed);
    const { vocabSize, embeddingDim, units, layers } = config;
    const dirs = config.bidirectional ? 2 : 1;
    this.embedding = this.weight('embedding', [vocabSize, embeddingDim], () => uniform(vocabSize * embeddingDim, 0.05, rng));
    this.cells = [];
    for (let l = 0; l < layers; l++) {
      const inDim = l === 0 ? embeddingDim : units * dirs;
      const layer: LstmCellWeights[] = [];
      for (let d = 0; d < dirs; d++) {
        const prefix = `lstm${l + 1}_${d === 0 ? 'fw' : 'bw'}`;
        const kernel = this.weight(`${prefix}/kernel`, [inDim, 4 * units], () => uniform(inDim * 4 * units, Math.sqrt(6 / (inDim + 4 * units)), rng));
        const recurrentKernel = this.weight(`${prefix}/recurrent_kernel`, [units, 4 * units], () => {
          // Four orthogonal [units, units] blocks side by side.
          const out = new Float32Array(units * 4 * units);
          for (let g = 0; g < 4; g++) {
            const q = orthogonal(units, rng);
            for (let r = 0; r < units; r++) out.set(q.subarray(r * units, (r + 1) * units), r * 4 * units + g * units);
          }
          return out;
        });
        const bias = this.weight(`${prefix}/bias`, [4 * units], () => {
          const b = new Float32Array(4 * units);
          b.fill(1, units, 2 * units); // forget gate
          return b;
        });
        layer.push({ kernel, recurrentKernel, bias });
      }
      this.cells.push(layer);
    }
    const featDim = pooledDim(this.config);
    this.denseKernel = this.weight('dense/kernel', [featDim, 1], () => uniform(featDim, Math.sqrt(6 / (featDim + 1)), rng));
    this.denseBias = this.weight('dense/bias', [1], () => new Float32Array(1));
    this.addSubwordVectors(config.subwords, embeddingDim, seed);
  }

  /**
   * Runs the classifier on a batch of equal-length sentences. Call inside tf.tidy (or an
   * optimizer's minimize): the step kernels leave intermediate tensors for the gradient.
   * @param ids [batch, time] int32 token ids (no padding needed: lengths are equal)
   */
  forward(ids: tf.Tensor2D, opts: ForwardOptions): ForwardResult {
    const { units, dropout } = this.config;
    const want = new Set(opts.features ?? []);
    const drop = this.dropper(dropout, opts);
    const [batch, time] = ids.shape;
    const features: Record<string, tf.Tensor2D> = {};
    // [time, batch, embeddingDim] word vectors, time-major.
    let words = opts.words ?? this.wordVectors(ids, opts.subwords);
    if (opts.perturbation) words = tf.add(words, opts.perturbation);
    if (want.has('embedding')) features.embedding = words.mean(0) as tf.Tensor2D;
    let seq: tf.Tensor3D = drop(words);
    let finalState: tf.Tensor2D | undefined;
    let lastSeq: tf.Tensor3D | undefined;
    this.cells.forEach((layer, l) => {
      const outputs: tf.Tensor3D[] = [];
      const finals: tf.Tensor2D[] = [];
      layer.forEach((cell, d) => {
        // [time, batch, units] hidden states of this direction, in time order.
        const hs = lstmLayer(seq, cell.kernel as tf.Tensor2D, cell.recurrentKernel as tf.Tensor2D, cell.bias as tf.Tensor1D, d === 1);
        outputs.push(hs);
        // The final state: after the last word (left-to-right) or after the first (right-to-left).
        finals.push(tf.slice(hs, [d === 0 ? time - 1 : 0, 0, 0], [1, batch, units]).reshape([batch, units]) as tf.Tensor2D);
      });
      // [batch, units * directions] final state(s) of this layer.
      const state = finals.length === 1 ? finals[0] : tf.concat(finals, 1);
      const name = `lstm${l + 1}`;
      if (want.has(name)) features[name] = state;
      finalState = state;
      // [time, batch, units * directions] all hidden states of this layer.
      const all = outputs.length === 1 ? outputs[0] : tf.concat(outputs, 2);
      if (l + 1 < this.cells.length) seq = drop(all);
      else lastSeq = all;
    });
    if (want.has('lstm')) features.lstm = finalState!;
    // [batch, pooledDim] sentence vector.
    const pooled = poolStates(lastSeq!, finalState!, this.config.pooling!);
    if (want.has('pooled')) features.pooled = pooled;
    const logits = tf.add(tf.matMul(drop(pooled), this.denseKernel), this.denseBias).reshape([batch]) as tf.Tensor1D;
    return { logits, features };
  }
}

/** Prefix of the saved weight names of ensemble member k (0-based): member1/, member2/, ... */
export const memberPrefix = (k: number): string => `member${k + 1}/`;

/**
 * Seed of ensemble member k: member 0 uses the run's seed itself (an ensemble of one is the single
 * network), the others seeds spread far apart (LEGACY_STREAM_SEEDS.sst2Member, kept so that the
 * published results reproduce).
 */
export const memberSeed = (seed: number, k: number): number => LEGACY_STREAM_SEEDS.sst2Member(seed, k);

/**
 * An ensemble of independently initialised networks: `members` LSTMs, then `cnnMembers` CNNs
 * (cnn.ts), each with its own seed (memberSeed of its position). The trainer
 * gives every member its own batch order and word dropout and minimises the sum of the members'
 * losses, whose gradient for each member's weights is that member's own, so the members train as
 * separate runs would (only early stopping is shared: on the ensemble's dev accuracy);
 * prediction averages their probabilities.
 */
export class EnsembleClassifier {
  readonly config: Sst2ModelConfig;
  readonly members: Sst2Network[];

  constructor(config: Sst2ModelConfig, seed: number, weights?: tf.NamedTensorMap) {
    const lstms = config.members ?? 1;
    const cnns = config.cnnMembers ?? 0;
    if (!Number.isInteger(lstms) || !Number.isInteger(cnns) || lstms < 0 || cnns < 0 || lstms + cnns < 2) {
      throw new Error(`an ensemble needs at least 2 networks, got ${lstms} LSTM and ${cnns} CNN`);
    }
    this.config = { ...config, pooling: config.pooling ?? 'last', members: lstms, ...(cnns > 0 ? { cnnMembers: cnns } : {}) };
    this.members = [];
    try {
      for (let k = 0; k < lstms + cnns; k++) {
        const prefix = memberPrefix(k);
        const own = weights
          ? Object.fromEntries(Object.entries(weights).filter(([n]) => n.startsWith(prefix)).map(([n, t]) => [n.slice(prefix.length), t]))
          : undefined;
        this.members.push(k < lstms
          ? new LstmSentimentClassifier({ ...this.config, members: 1, cnnMembers: undefined }, memberSeed(seed, k), own)
          : new CnnSentimentClassifier(this.config, memberSeed(seed, k), own)); // it sets its own counts
      }
    } catch (err) {
      this.dispose();
      throw err;
    }
  }

  /** The member networks (the trainer gives each its own batches). */
  get networks(): Sst2Network[] {
    return this.members;
  }

  get variables(): tf.Variable[] {
    return this.members.flatMap((m) => m.variables);
  }

  /** Weights by saved name: member1/embedding, member1/lstm1_fw/kernel, ..., member2/... */
  namedWeights(): tf.NamedTensorMap {
    return Object.fromEntries(this.members.flatMap((m, k) => Object.entries(m.namedWeights()).map(([n, v]) => [memberPrefix(k) + n, v])));
  }

  get parameterCount(): number {
    return this.members.reduce((n, m) => n + m.parameterCount, 0);
  }

  /**
   * Runs every member. `logits` is the logit of the mean member probability (so sigmoid(logits)
   * is the ensemble's P(positive)); each feature layer is the features of the members that have
   * it, concatenated.
   */
  forward(ids: tf.Tensor2D, opts: ForwardOptions): ForwardResult {
    if (opts.perturbation) throw new Error('perturb the word vectors of each member network, not of the ensemble');
    const outs = this.members.map((m) => m.forward(ids, opts));
    const memberLogits = outs.map((o) => o.logits);
    const eps = 1e-7;
    const p = tf.clipByValue(tf.div(tf.addN(memberLogits.map((l) => tf.sigmoid(l))), memberLogits.length), eps, 1 - eps);
    const logits = tf.sub(tf.log(p), tf.log1p(tf.neg(p))) as tf.Tensor1D;
    const features: Record<string, tf.Tensor2D> = {};
    for (const name of opts.features ?? []) {
      const parts = outs.flatMap((o) => (o.features[name] ? [o.features[name]] : []));
      if (parts.length > 0) features[name] = (parts.length === 1 ? parts[0] : tf.concat(parts, 1)) as tf.Tensor2D;
    }
    return { logits, features };
  }

  dispose(): void {
    for (const m of this.members) m.dispose();
  }
}

/** One network of any architecture (what an ensemble is made of). */
export type Sst2Network = LstmSentimentClassifier | CnnSentimentClassifier;

/** What the trainer, the saved-model reader and predict work with: one network or an ensemble. */
export type Sst2Classifier = Sst2Network | EnsembleClassifier;

/**
 * An ensemble when the config has 2 or more networks (members LSTMs plus cnnMembers CNNs), else
 * the one network; fresh from `seed` or wrapping `weights`.
 */
export function createClassifier(config: Sst2ModelConfig, seed: number, weights?: tf.NamedTensorMap): Sst2Classifier {
  const lstms = config.members ?? 1;
  const cnns = config.cnnMembers ?? 0;
  if (lstms + cnns > 1) return new EnsembleClassifier(config, seed, weights);
  if (cnns === 1) return new CnnSentimentClassifier(config, seed, weights);
  if (lstms !== 1) throw new Error('the model configuration has no network (members 0, cnnMembers 0)');
  return new LstmSentimentClassifier({ ...config, members: undefined, cnnMembers: undefined }, seed, weights);
}
