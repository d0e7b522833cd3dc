/**
 * What every SST-2 network shares (the LSTM of model.ts, the CNN of cnn.ts): named trainable
 * weights created from a seed or wrapped from saved tensors, the word-vector table, and the
 * forward contract the trainer, the ensemble and the saved-model reader rely on.
 */
import * as tf from '@tensorflow/tfjs';
import { createRng, LEGACY_STREAM_SEEDS, type Rng } from '../core/rng.js';
import { subwordBag } from './subword_bag.js';

/**
 * The character n-grams of a batch's tokens (data.ts flattenSubwords), for a network with
 * subword vectors: n-gram `ids[j]` adds `weights[j]` times its vector to the word vector at
 * time-major position `positions[j]` (time * batch + sentence).
 */
export interface SubwordTensors {
  ids: tf.Tensor1D;
  positions: tf.Tensor1D;
  weights: tf.Tensor1D;
}

export interface ForwardOptions {
  /** Apply dropout (training only). */
  training: boolean;
  /** Source of dropout seeds (required when training with dropout > 0). */
  rng?: Rng;
  /** Also return these feature layers (names from featureLayerNames). */
  features?: string[];
  /**
   * Added to the word vectors before anything else (adversarial training): [time, batch,
   * embeddingDim], as wordVectors returns them. One network only.
   */
  perturbation?: tf.Tensor3D;
  /**
   * The batch's word vectors, already looked up ([time, batch, embeddingDim], as wordVectors
   * returns them): used instead of the lookup (the trainer computes them once per step and takes
   * the gradient with respect to them; see step.ts).
   */
  words?: tf.Tensor3D;
  /** The batch's subword ids: required by a network with subword vectors, ignored by others. */
  subwords?: SubwordTensors;
}

export interface ForwardResult {
  /** [batch] logits of P(positive) (for an ensemble, the logit of the members' mean probability). */
  logits: tf.Tensor1D;
  /**
   * Requested feature layers, each [batch, dim]. A network leaves out the layers it does not
   * have (a CNN has no LSTM states).
   */
  features: Record<string, tf.Tensor2D>;
}

/** U(-limit, limit) values. */
export function uniform(size: number, limit: number, rng: Rng): Float32Array {
  return Float32Array.from({ length: size }, () => (rng.next() * 2 - 1) * limit);
}

/** Variable names must be unique in tfjs: each network gets a number. */
let instanceCount = 0;

/**
 * Base of one network: subclasses create their weights with `weight()` in a fixed order (the
 * order of `variables`, which Adam's moments and checkpoints follow) and implement forward.
 */
export abstract class WordNetwork {
  /** The [vocabSize, embeddingDim] word vectors. */
  abstract readonly embedding: tf.Variable;
  /** The [subwords, embeddingDim] character n-gram vectors, when the network has them. */
  subwordEmbedding?: tf.Variable;
  private readonly byName = new Map<string, tf.Variable>();
  private readonly instance = ++instanceCount;

  /** @param weights saved tensors by name (see namedWeights), or undefined for fresh ones */
  protected constructor(private readonly given?: tf.NamedTensorMap) {}

  /** Creates weight `name` of `shape`: the given tensor when wrapping saved weights, else init(). */
  protected weight(name: string, shape: number[], init: () => Float32Array): tf.Variable {
    const given = this.given?.[name];
    if (this.given && !given) throw new Error(`weight ${name} is missing`);
    if (given && given.shape.join() !== shape.join()) {
      throw new Error(`weight ${name} has shape [${given.shape}], the configuration needs [${shape}]`);
    }
    const v = tf.variable(given ?? tf.tensor(init(), shape), true, `sst2_${this.instance}/${name}`);
    this.byName.set(name, v);
    return v;
  }

  /** The networks of the model: this one. */
  get networks(): this[] {
    return [this];
  }

  /** All trainable variables, in the order they were created. */
  get variables(): tf.Variable[] {
    return [...this.byName.values()];
  }

  /** Weights by name (the names in the saved model). */
  namedWeights(): tf.NamedTensorMap {
    return Object.fromEntries(this.byName);
  }

  /** Parameters in total. */
  get parameterCount(): number {
    return this.variables.reduce((n, v) => n + v.size, 0);
  }

  /**
   * Creates the subword vectors (call last in the constructor, so that the other weights are
   * the same with and without them): U(-0.05, 0.05) as the word vectors, from a random stream of
   * their own (seeded from the network's seed).
   */
  protected addSubwordVectors(count: number | undefined, embeddingDim: number, seed: number): void {
    if (!count) return;
    const rng = createRng(LEGACY_STREAM_SEEDS.sst2Subwords(seed));
    this.subwordEmbedding = this.weight('subword_embedding', [count, embeddingDim], () => uniform(count * embeddingDim, 0.05, rng));
  }

  /**
   * The [time, batch, embeddingDim] word vectors of a batch (time-major): each word's vector,
   * plus with subword vectors the mean vector of its character n-grams.
   */
  wordVectors(ids: tf.Tensor2D, subwords?: SubwordTensors): tf.Tensor3D {
    const words = tf.gather(this.embedding, ids.transpose()) as tf.Tensor3D;
    if (!this.subwordEmbedding) return words;
    if (!subwords) throw new Error('this network has subword vectors: give the batch\'s subword ids (ForwardOptions.subwords)');
    if (subwords.ids.size === 0) return words;
    const [batch, time] = ids.shape;
    const mean = subwordBag(this.subwordEmbedding as tf.Tensor2D, subwords.ids, subwords.positions, subwords.weights, time * batch);
    return tf.add(words, mean.reshape(words.shape)) as tf.Tensor3D;
  }

  /**
   * Runs the network on a batch of equal-length sentences. Call inside tf.tidy (or an
   * optimizer's minimize): the kernels leave intermediate tensors for the gradient.
   * @param ids [batch, time] int32 token ids (no padding needed: lengths are equal)
   */
  abstract forward(ids: tf.Tensor2D, opts: ForwardOptions): ForwardResult;

  /** Dropout at `rate` while training (seeded from opts.rng), the identity otherwise. */
  protected dropper(rate: number, opts: ForwardOptions): <T extends tf.Tensor>(x: T) => T {
    return <T extends tf.Tensor>(x: T): T =>
      opts.training && rate > 0 ? tf.dropout(x, rate, undefined, opts.rng ? opts.rng.int(2 ** 31) : undefined) as T : x;
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}
