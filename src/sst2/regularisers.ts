/**
 * The regularisers of SST-2 training: adversarial word-vector perturbations (Miyato et al.
 * 2017), decoupled weight decay (Loshchilov & Hutter 2019) and the weights' moving average
 * (Polyak averaging).
 */
import * as tf from '@tensorflow/tfjs';

/**
 * The adversarial perturbation of a batch's word vectors (Miyato et al. 2017) from the loss
 * gradient `g` with respect to them: `g` scaled per sentence to `share` of the L2 norm of the
 * sentence's word vectors `words` (relative, so that growing the embeddings does not shrink
 * it). Both are [time, batch, embeddingDim]; the result is a constant (no gradient flows
 * through it). The trainer takes `g` from the step's clean pass (step.ts).
 */
export function adversarialDirection(g: tf.Tensor3D, words: tf.Tensor3D, share: number): tf.Tensor3D {
  return tf.tidy(() => {
    // Norms per sentence: over time and the vector dimension, [1, batch, 1].
    const norm = (t: tf.Tensor) => tf.sqrt(tf.sum(tf.square(t), [0, 2], true));
    return tf.mul(g, tf.div(tf.mul(norm(words), share), tf.add(norm(g), 1e-12))) as tf.Tensor3D;
  });
}

/** Decoupled weight decay: every variable shrinks to (1 - rate) of itself. */
export function decayWeights(vars: tf.Variable[], rate: number): void {
  tf.tidy(() => vars.forEach((v) => v.assign(tf.mul(v, 1 - rate))));
}

/**
 * Exponential moving average of some variables (Polyak averaging, as tf.train.ExponentialMovingAverage
 * with num_updates): after update number n, avg = d * avg + (1 - d) * w with
 * d = min(decay, (1 + n) / (10 + n)), so early averages are not stuck at the initial weights.
 */
export class WeightAverage {
  readonly averaged: tf.Variable[];
  private updates = 0;

  constructor(private readonly vars: tf.Variable[], private readonly decay: number) {
    this.averaged = vars.map((v) => tf.variable(v.clone() as tf.Tensor, false));
  }

  /** Updates folded in so far (saved in checkpoints). */
  get updateCount(): number {
    return this.updates;
  }

  /** Restores a checkpoint: the averages' values and the update count. */
  restore(values: tf.Tensor[], updates: number): void {
    values.forEach((t, i) => this.averaged[i].assign(t));
    this.updates = updates;
  }

  /** Folds the variables' current values into the average. */
  update(): void {
    this.updates += 1;
    const d = Math.min(this.decay, (1 + this.updates) / (10 + this.updates));
    tf.tidy(() => this.vars.forEach((v, i) => this.averaged[i].assign(tf.add(tf.mul(this.averaged[i], d), tf.mul(v, 1 - d)))));
  }

  /** Exchanges the variables' values with the averages (call twice to undo). */
  swap(): void {
    this.vars.forEach((v, i) => {
      const raw = v.clone();
      v.assign(this.averaged[i]);
      this.averaged[i].assign(raw);
      raw.dispose();
    });
  }

  dispose(): void {
    tf.dispose(this.averaged);
  }
}

