/**
 * The one public accessor to tfjs's Adam state, for checkpoints (Kingma & Ba 2015, Algorithm 1:
 * moments m_t, v_t, and the bias-correction powers beta1^t, beta2^t). tfjs keeps the powers in
 * private fields and, on setWeights, recomputes them as pow(beta, t + 1) in float32, which differs
 * in the last bits from the running product it multiplies step by step; a resumed run would then
 * drift from an uninterrupted one. Checkpoints therefore save the powers themselves and put them
 * back with setBetaPowers after the moments. This file is the only place that reaches into the
 * optimizer's private fields.
 */
import * as tf from '@tensorflow/tfjs';

/** The fields of tf.AdamOptimizer this accessor reads and writes (private in tfjs's types). */
interface AdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  learningRate: number;
}

/** Get and set an Adam optimizer's state for a checkpoint. */
export interface AdamState {
  /** [beta1^t, beta2^t] after t steps (the running products Adam divides by). */
  getBetaPowers(): [number, number];
  setBetaPowers(powers: readonly [number, number]): void;
  /**
   * The step count as a scalar, then the first moments, then the second moments, one per
   * variable in the order the gradients were first applied (tfjs's getWeights order). The step
   * count scalar is new: the caller disposes it; the moments are the optimizer's own variables.
   */
  getMoments(): Promise<tf.Tensor[]>;
  /** Restores what getMoments returned, then the beta powers (exactly, not recomputed). */
  setMoments(tensors: readonly tf.Tensor[], betaPowers: readonly [number, number]): Promise<void>;
  /** Sets the step size of the following steps (tfjs reads it at every step). */
  setLearningRate(lr: number): void;
}

/** The checkpoint accessor of `optimizer`, which must be tf.train.adam's. */
export function adamState(optimizer: tf.Optimizer): AdamState {
  if (!(optimizer instanceof tf.AdamOptimizer)) {
    throw new Error(`adamState: expected a tf.train.adam optimizer, got ${optimizer?.getClassName?.() ?? String(optimizer)}`);
  }
  const inner = optimizer as unknown as AdamInternals;
  return {
    getBetaPowers: () => [inner.accBeta1.dataSync()[0], inner.accBeta2.dataSync()[0]],
    setBetaPowers: ([p1, p2]) => {
      tf.tidy(() => {
        inner.accBeta1.assign(tf.scalar(p1));
        inner.accBeta2.assign(tf.scalar(p2));
      });
    },
    getMoments: async () => (await optimizer.getWeights()).map((w) => w.tensor),
    setMoments: async (tensors, betaPowers) => {
      await optimizer.setWeights(tensors.map((tensor, k) => ({ name: k === 0 ? 'iter' : `acc${k}`, tensor })));
      tf.tidy(() => {
        inner.accBeta1.assign(tf.scalar(betaPowers[0]));
        inner.accBeta2.assign(tf.scalar(betaPowers[1]));
      });
    },
    setLearningRate: (lr) => {
      inner.learningRate = lr;
    },
  };
}
