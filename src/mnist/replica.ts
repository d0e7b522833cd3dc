/**
 * One replica's share of a data-parallel training step (synchronous data parallelism: each
 * replica computes the gradient of its rows of the batch, the shares are summed in a fixed
 * order, one Adam step is applied). Used by the main thread and by replica_worker.ts alike, so
 * both compute exactly the same function.
 *
 * The loss is the one model.trainOnBatch minimises, categorical cross-entropy averaged over the
 * whole batch of N images: L = (1/N) sum_i CE_i. A replica holding rows S computes
 * L_S = (1/N) sum_{i in S} CE_i, so the shares' gradients add up to dL/dw exactly (up to float
 * summation order).
 */
import * as tf from '@tensorflow/tfjs';

/** What a replica returns for its rows: gradients by variable name, and its summed loss and hits. */
export interface ShardResult {
  /** dL_S/dw by variable name, in the order of model.trainableWeights (Adam keys its moments by that order). */
  grads: tf.NamedTensorMap;
  /** sum_{i in S} CE_i (not divided by N). */
  lossSum: number;
  /** Rows of S whose arg-max prediction is the label. */
  correct: number;
}

/** The model's trainable variables, in order (what trainOnBatch differentiates). */
export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/**
 * Gradients of (1/total) sum of the cross-entropy over the shard x [n, rows, cols, 1], one-hot
 * y [n, 10], with dropout on (training mode; masks drawn from Math.random as trainOnBatch does).
 * The caller disposes `grads`.
 */
export function shardGradients(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, total: number): ShardResult {
  let lossSum: tf.Scalar | undefined;
  let correct: tf.Scalar | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const probs = model.apply(x, { training: true }) as tf.Tensor2D; // [n, 10] softmax
    const ce = tf.metrics.categoricalCrossentropy(y, probs); // [n]
    lossSum = tf.keep(tf.sum(ce));
    correct = tf.keep(tf.sum(tf.metrics.categoricalAccuracy(y, probs)));
    return tf.div(lossSum, total) as tf.Scalar;
  }, trainableVariables(model));
  value.dispose();
  const result = { grads, lossSum: lossSum!.dataSync()[0], correct: correct!.dataSync()[0] };
  lossSum!.dispose();
  correct!.dispose();
  return result;
}

/** The total number of floats of `model`'s trainable weights. */
export function weightCount(model: tf.LayersModel): number {
  return trainableVariables(model).reduce((n, v) => n + v.size, 0);
}

/** Copies tensors (in the given order) into one new Float32Array: what crosses between threads. */
export function flatten(tensors: readonly tf.Tensor[]): Float32Array {
  const out = new Float32Array(tensors.reduce((n, t) => n + t.size, 0));
  let at = 0;
  for (const t of tensors) {
    out.set(t.dataSync() as Float32Array, at);
    at += t.size;
  }
  return out;
}

/** Splits `flat` into tensors shaped like `like` (the inverse of flatten). */
export function unflatten(flat: Float32Array, like: readonly tf.Tensor[]): tf.Tensor[] {
  if (flat.length !== like.reduce((n, t) => n + t.size, 0)) throw new Error(`unflatten: ${flat.length} floats for tensors of ${like.map((t) => t.size).join('+')}`);
  let at = 0;
  return like.map((t) => {
    const part = tf.tensor(flat.subarray(at, at + t.size), t.shape, 'float32');
    at += t.size;
    return part;
  });
}

/** Sets the model's trainable weights from flatten()'s layout. */
export function setWeightsFlat(model: tf.LayersModel, flat: Float32Array): void {
  const vars = trainableVariables(model);
  tf.tidy(() => {
    const parts = unflatten(flat, vars);
    vars.forEach((v, i) => v.assign(parts[i]));
  });
}

/** The model's trainable weights in flatten()'s layout. */
export function weightsFlat(model: tf.LayersModel): Float32Array {
  return flatten(trainableVariables(model));
}
